//! Slice order of a series: by position along the slice normal (ImagePositionPatient ·
//! (row direction × column direction) of ImageOrientationPatient), falling back to
//! InstanceNumber when an instance has no usable geometry.

use serde_json::{Map, Value};

use super::describe::{number, numbers};

/// What ordering needs of one instance.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SliceKey {
    pub position: Option<[f64; 3]>,
    pub orientation: Option<[f64; 6]>,
    pub instance_number: Option<i64>,
}

impl SliceKey {
    /// From an instance's (merged) attributes.
    pub fn from_attributes(attrs: &Map<String, Value>) -> Self {
        let position = <[f64; 3]>::try_from(numbers(attrs, "ImagePositionPatient")).ok();
        let orientation = <[f64; 6]>::try_from(numbers(attrs, "ImageOrientationPatient")).ok();
        Self {
            position,
            orientation,
            instance_number: number(attrs, "InstanceNumber").map(|n| n as i64),
        }
    }
}

/// The slice normal of an orientation (row × column direction).
pub fn normal(o: &[f64; 6]) -> [f64; 3] {
    [
        o[1] * o[5] - o[2] * o[4],
        o[2] * o[3] - o[0] * o[5],
        o[0] * o[4] - o[1] * o[3],
    ]
}

/// Position along `normal` (the slice location a viewer shows).
pub fn location(position: &[f64; 3], normal: &[f64; 3]) -> f64 {
    position.iter().zip(normal).map(|(p, n)| p * n).sum()
}

/// Each key's position along the series' slice normal (the first orientation given), `None`
/// without geometry.
pub fn slice_locations(keys: &[SliceKey]) -> Vec<Option<f64>> {
    let n = keys.iter().find_map(|k| k.orientation).map(|o| normal(&o));
    keys.iter()
        .map(|k| Some(location(&k.position?, &n?)))
        .collect()
}

/// Indices of `keys` in slice order: by location along the normal when every instance has a
/// position (and the series an orientation), else by InstanceNumber (missing last); ties keep
/// InstanceNumber, then input order.
pub fn order_slices(keys: &[SliceKey]) -> Vec<usize> {
    let locations = slice_locations(keys);
    let by_geometry = !keys.is_empty() && locations.iter().all(Option::is_some);
    let mut order: Vec<usize> = (0..keys.len()).collect();
    let number = |i: usize| keys[i].instance_number.unwrap_or(i64::MAX);
    order.sort_by(|&a, &b| {
        let primary = if by_geometry {
            locations[a]
                .unwrap_or_default()
                .total_cmp(&locations[b].unwrap_or_default())
        } else {
            std::cmp::Ordering::Equal
        };
        primary.then(number(a).cmp(&number(b))).then(a.cmp(&b))
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(z: Option<f64>, n: Option<i64>) -> SliceKey {
        SliceKey {
            position: z.map(|z| [0.0, 0.0, z]),
            orientation: Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
            instance_number: n,
        }
    }

    #[test]
    fn orders_by_position_along_the_normal() {
        // instance numbers run opposite to the position
        let keys = vec![
            key(Some(10.0), Some(1)),
            key(Some(-5.0), Some(2)),
            key(Some(2.5), Some(3)),
        ];
        assert_eq!(order_slices(&keys), vec![1, 2, 0]);
        assert_eq!(
            slice_locations(&keys),
            vec![Some(10.0), Some(-5.0), Some(2.5)]
        );
        // sagittal: normal is x
        let o = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0];
        assert_eq!(normal(&o), [-1.0, 0.0, 0.0]);
    }

    #[test]
    fn falls_back_to_instance_number() {
        let keys = vec![
            key(Some(10.0), Some(3)),
            key(None, Some(1)),
            key(Some(2.0), None),
            key(None, Some(2)),
        ];
        assert_eq!(order_slices(&keys), vec![1, 3, 0, 2]);
        let attrs: Map<String, Value> = serde_json::from_value(json!({
            "ImagePositionPatient": ["1", "2", "3.5"],
            "ImageOrientationPatient": [1, 0, 0, 0, 1, 0], "InstanceNumber": "4"
        }))
        .unwrap();
        let k = SliceKey::from_attributes(&attrs);
        assert_eq!(k.position, Some([1.0, 2.0, 3.5]));
        assert_eq!(k.instance_number, Some(4));
        assert!(order_slices(&[]).is_empty());
    }
}
