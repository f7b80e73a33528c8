//! DICOMweb media types (PS3.18 §8.7): `Accept` and `Content-Type` values parsed into media
//! ranges with their parameters (`type`, `transfer-syntax`, `boundary`, `q`).

pub const DICOM: &str = "application/dicom";
pub const DICOM_JSON: &str = "application/dicom+json";
pub const OCTET_STREAM: &str = "application/octet-stream";
pub const MULTIPART_RELATED: &str = "multipart/related";
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";

/// One media type or range: `type/subtype` (lower case) and its parameters (names lower case,
/// values unquoted).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaType {
    pub essence: String,
    pub params: Vec<(String, String)>,
}

impl MediaType {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    /// The `q` weight (1 when absent or unreadable).
    pub fn quality(&self) -> f32 {
        self.param("q").and_then(|q| q.parse().ok()).unwrap_or(1.0)
    }
    pub fn transfer_syntax(&self) -> Option<&str> {
        self.param("transfer-syntax")
    }
    /// Whether this range accepts `essence` (`*/*`, `type/*` or the same type).
    pub fn accepts(&self, essence: &str) -> bool {
        let (t, _) = essence.split_once('/').unwrap_or((essence, ""));
        self.essence == "*/*"
            || self.essence == essence
            || self.essence.strip_suffix("/*") == Some(t)
    }
}

/// Splits on `sep` outside double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    match v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => v.to_string(),
    }
}

/// One media type (`Content-Type`, or one entry of `Accept`); `None` when it has no `/`.
pub fn parse(value: &str) -> Option<MediaType> {
    let mut pieces = split_unquoted(value, ';').into_iter();
    let essence = pieces.next()?.trim().to_ascii_lowercase();
    if !essence.contains('/') {
        return None;
    }
    let params = pieces
        .filter_map(|p| {
            let (n, v) = p.split_once('=')?;
            Some((n.trim().to_ascii_lowercase(), unquote(v)))
        })
        .collect();
    Some(MediaType { essence, params })
}

/// The ranges of an `Accept` header, highest `q` first (stable for equal weights); an absent
/// or empty header accepts anything.
pub fn parse_accept(value: Option<&str>) -> Vec<MediaType> {
    let mut ranges: Vec<MediaType> = value
        .map(|v| {
            split_unquoted(v, ',')
                .into_iter()
                .filter_map(parse)
                .collect()
        })
        .unwrap_or_default();
    if ranges.is_empty() {
        ranges.push(MediaType {
            essence: "*/*".into(),
            params: Vec::new(),
        });
    }
    ranges.retain(|r| r.quality() > 0.0);
    ranges.sort_by(|a, b| b.quality().total_cmp(&a.quality()));
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_ranges_with_quoted_parameters() {
        let r = parse_accept(Some(
            r#"multipart/related; type="application/octet-stream"; transfer-syntax=*;q=0.5, application/dicom; transfer-syntax=1.2.840.10008.1.2.1"#,
        ));
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].essence, "application/dicom");
        assert_eq!(r[0].transfer_syntax(), Some(EXPLICIT_VR_LE));
        assert_eq!(r[1].essence, "multipart/related");
        assert_eq!(r[1].param("type"), Some("application/octet-stream"));
        assert_eq!(r[1].transfer_syntax(), Some("*"));
        assert!(parse_accept(None)[0].accepts(DICOM_JSON));
        assert!(parse("application/*").unwrap().accepts(DICOM));
        assert!(!parse("image/*").unwrap().accepts(DICOM));
        assert_eq!(parse("nonsense"), None);
    }
}
