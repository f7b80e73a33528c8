//! Writing `multipart/related` bodies (RFC 2046 §5.1; PS3.18 §8.7.1.2): WADO-RS frames and bulk
//! data, STOW-RS requests.

use bytes::{BufMut, Bytes, BytesMut};

/// One part: its Content-Type and content.
pub struct Part {
    pub content_type: String,
    pub body: Bytes,
}

/// A boundary that no part contains (random; checked, and lengthened on the unlikely clash).
pub fn boundary_for(parts: &[Part]) -> String {
    let mut b = format!("DICOMwebBoundary{:032x}", rand::random::<u128>());
    while parts
        .iter()
        .any(|p| p.body.windows(b.len()).any(|w| w == b.as_bytes()))
    {
        b.push_str(&format!("{:08x}", rand::random::<u32>()));
    }
    b
}

/// The body of `parts` with `boundary`.
pub fn write(parts: &[Part], boundary: &str) -> Bytes {
    let size: usize = parts
        .iter()
        .map(|p| p.body.len() + p.content_type.len() + boundary.len() + 40)
        .sum();
    let mut out = BytesMut::with_capacity(size + boundary.len() + 8);
    for p in parts {
        out.put_slice(b"--");
        out.put_slice(boundary.as_bytes());
        out.put_slice(b"\r\nContent-Type: ");
        out.put_slice(p.content_type.as_bytes());
        out.put_slice(b"\r\n\r\n");
        out.put_slice(&p.body);
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"--");
    out.put_slice(boundary.as_bytes());
    out.put_slice(b"--\r\n");
    out.freeze()
}

/// The `Content-Type` of a multipart/related body whose root parts are `part_type`.
pub fn content_type(part_type: &str, boundary: &str, transfer_syntax: Option<&str>) -> String {
    let ts = transfer_syntax
        .map(|t| format!("; transfer-syntax={t}"))
        .unwrap_or_default();
    format!("multipart/related; type=\"{part_type}\"; boundary={boundary}{ts}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_framed_by_the_boundary() {
        let parts = vec![
            Part {
                content_type: "application/octet-stream".into(),
                body: Bytes::from_static(b"abc"),
            },
            Part {
                content_type: "application/octet-stream".into(),
                body: Bytes::from_static(b""),
            },
        ];
        let b = boundary_for(&parts);
        let body = write(&parts, &b);
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert_eq!(
            text,
            format!(
                "--{b}\r\nContent-Type: application/octet-stream\r\n\r\nabc\r\n--{b}\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--{b}--\r\n"
            )
        );
        assert!(content_type("application/dicom", &b, None).contains(&format!("boundary={b}")));
    }
}
