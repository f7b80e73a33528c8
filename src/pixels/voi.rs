//! The VOI stage: which window applies (the caller's, a named preset, the image's own, or an
//! automatic one) and the VOI LUT functions of PS3.3 C.11.2.1.2 mapping values to 0..=255.

use super::describe::{PixelDescription, VoiFunction, Window};

/// Named CT windows (Hounsfield units), as radiology viewers commonly define them.
pub const PRESETS: &[(&str, Window)] = &[
    (
        "lung",
        Window {
            center: -600.0,
            width: 1500.0,
        },
    ),
    (
        "mediastinum",
        Window {
            center: 50.0,
            width: 350.0,
        },
    ),
    (
        "bone",
        Window {
            center: 400.0,
            width: 1800.0,
        },
    ),
    (
        "brain",
        Window {
            center: 40.0,
            width: 80.0,
        },
    ),
    (
        "subdural",
        Window {
            center: 75.0,
            width: 215.0,
        },
    ),
    (
        "stroke",
        Window {
            center: 40.0,
            width: 40.0,
        },
    ),
    (
        "liver",
        Window {
            center: 30.0,
            width: 150.0,
        },
    ),
    (
        "soft_tissue",
        Window {
            center: 50.0,
            width: 400.0,
        },
    ),
    (
        "abdomen",
        Window {
            center: 40.0,
            width: 400.0,
        },
    ),
];

/// The preset called `name`.
pub fn preset(name: &str) -> Option<Window> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, w)| *w)
}

/// What the caller asked for.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum WindowRequest {
    /// The image's own window, else an automatic one.
    #[default]
    Default,
    Explicit(Window),
    Preset(&'static str, Window),
}

/// Where the window used came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowSource {
    Request,
    Preset(&'static str),
    /// WindowCenter/WindowWidth of the image.
    Image,
    /// Percentiles of the frame's values (no window given or stored).
    Auto,
}

impl WindowSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Preset(_) => "preset",
            Self::Image => "image",
            Self::Auto => "auto",
        }
    }
}

/// The window applied, its function and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowUsed {
    pub window: Window,
    pub function: VoiFunction,
    pub source: WindowSource,
}

/// The automatic window: the 0.5th to 99.5th percentile of the values, so that a few extreme
/// pixels (padding, metal) do not flatten the image.
pub fn auto_window(values: &[f64]) -> Window {
    if values.is_empty() {
        return Window {
            center: 0.0,
            width: 1.0,
        };
    }
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return Window {
            center: 0.0,
            width: 1.0,
        };
    }
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let (lo, hi) = (at(0.005), at(0.995));
    Window {
        center: (lo + hi) / 2.0,
        width: (hi - lo).max(1.0),
    }
}

/// Chooses the window for a monochrome frame whose modality values are `values`.
pub fn choose(request: &WindowRequest, desc: &PixelDescription, values: &[f64]) -> WindowUsed {
    match request {
        WindowRequest::Explicit(w) => WindowUsed {
            window: *w,
            function: VoiFunction::Linear,
            source: WindowSource::Request,
        },
        WindowRequest::Preset(name, w) => WindowUsed {
            window: *w,
            function: VoiFunction::Linear,
            source: WindowSource::Preset(name),
        },
        WindowRequest::Default => match desc.windows.first() {
            Some(w) => WindowUsed {
                window: *w,
                function: desc.voi_function,
                source: WindowSource::Image,
            },
            None => WindowUsed {
                window: auto_window(values),
                function: VoiFunction::LinearExact,
                source: WindowSource::Auto,
            },
        },
    }
}

/// The VOI LUT function as a map from a modality value to an output in 0.0..=255.0.
pub fn mapper(used: &WindowUsed) -> impl Fn(f64) -> f64 {
    let Window {
        center: c,
        width: w,
    } = used.window;
    let function = used.function;
    move |x: f64| {
        match function {
            // PS3.3 C.11.2.1.2.1: width >= 1, centre shifted by 0.5.
            VoiFunction::Linear => {
                let w = w.max(1.0);
                if x <= c - 0.5 - (w - 1.0) / 2.0 {
                    0.0
                } else if x > c - 0.5 + (w - 1.0) / 2.0 {
                    255.0
                } else {
                    ((x - (c - 0.5)) / (w - 1.0) + 0.5) * 255.0
                }
            }
            // C.11.2.1.3.2: exact linear.
            VoiFunction::LinearExact => {
                let w = if w > 0.0 { w } else { 1.0 };
                if x <= c - w / 2.0 {
                    0.0
                } else if x > c + w / 2.0 {
                    255.0
                } else {
                    ((x - c) / w + 0.5) * 255.0
                }
            }
            // C.11.2.1.3.1: sigmoid.
            VoiFunction::Sigmoid => {
                let w = if w > 0.0 { w } else { 1.0 };
                255.0 / (1.0 + (-4.0 * (x - c) / w).exp())
            }
        }
        .clamp(0.0, 255.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(center: f64, width: f64, function: VoiFunction) -> WindowUsed {
        WindowUsed {
            window: Window { center, width },
            function,
            source: WindowSource::Request,
        }
    }

    #[test]
    fn linear_follows_the_standard() {
        let f = mapper(&used(40.0, 400.0, VoiFunction::Linear));
        assert_eq!(f(-161.0), 0.0);
        assert_eq!(f(240.0), 255.0);
        // the centre maps to half way (the 0.5 shift of C.11.2.1.2.1)
        assert!((f(39.5) - 127.5).abs() < 1e-9);
        let exact = mapper(&used(40.0, 400.0, VoiFunction::LinearExact));
        assert_eq!(exact(-160.0), 0.0);
        assert!((exact(40.0) - 127.5).abs() < 1e-9);
        assert_eq!(exact(240.1), 255.0);
        let s = mapper(&used(0.0, 100.0, VoiFunction::Sigmoid));
        assert!((s(0.0) - 127.5).abs() < 1e-9);
        assert!(s(100.0) > 250.0 && s(-100.0) < 5.0);
    }

    #[test]
    fn auto_window_ignores_outliers_and_presets_exist() {
        let mut values: Vec<f64> = (0..1000).map(f64::from).collect();
        values.extend([1e6, -1e6]);
        let w = auto_window(&values);
        assert!(w.center > 400.0 && w.center < 600.0, "{w:?}");
        assert!(w.width < 1100.0, "{w:?}");
        assert_eq!(auto_window(&[5.0; 10]).width, 1.0);
        for name in [
            "lung",
            "mediastinum",
            "bone",
            "brain",
            "subdural",
            "stroke",
            "liver",
            "soft_tissue",
            "abdomen",
        ] {
            assert!(preset(name).is_some(), "{name}");
        }
        assert_eq!(preset("lung").unwrap().center, -600.0);
        assert!(preset("nope").is_none());
    }
}
