//! Streaming reader of `multipart/related` bodies (RFC 2046 §5.1, as DICOMweb uses them for
//! WADO-RS frames and instances and for STOW-RS uploads). Parts are handed out one at a time
//! and each part's content piece by piece as the body arrives, so neither the whole body nor a
//! whole part has to be held in memory.
//!
//! ```text
//! let mut parts = MultipartReader::new(body, &boundary);
//! while let Some(headers) = parts.next_part().await? {
//!     while let Some(piece) = parts.chunk().await? { /* write piece */ }
//! }
//! ```

use std::future::poll_fn;
use std::pin::Pin;

use bytes::{Buf, Bytes, BytesMut};
use http_body::Body;

/// Longest header block of one part we accept (DICOMweb parts carry one or two headers).
const MAX_HEADER_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    #[error("the multipart body ended before its closing boundary")]
    Truncated,
    #[error("the multipart body has no boundary line")]
    NoBoundary,
    #[error("a part's headers are malformed: {0}")]
    BadHeaders(String),
    #[error("a part is larger than {0} bytes")]
    PartTooLarge(usize),
    #[error("reading the body failed: {0}")]
    Body(String),
}

/// The headers of one part, names lower-cased, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartHeaders {
    pub headers: Vec<(String, String)>,
}

impl PartHeaders {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn content_type(&self) -> Option<&str> {
        self.get("content-type")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first boundary line.
    Preamble,
    /// Just after a boundary: `--` (close) or the end of the boundary line follows.
    AfterBoundary,
    Headers,
    Content,
    /// After the closing boundary: the epilogue is ignored.
    Done,
}

/// Reads the parts of a `multipart/related` body from any `http_body::Body` (hyper's incoming
/// bodies on the client, axum's on the server).
pub struct MultipartReader<B> {
    body: B,
    body_done: bool,
    /// `\r\n--boundary`: a boundary line, including the line break that ends the previous part.
    delimiter: Vec<u8>,
    buf: BytesMut,
    state: State,
    bytes_read: u64,
}

impl<B> MultipartReader<B>
where
    B: Body + Unpin,
    B::Data: Buf,
    B::Error: std::fmt::Display,
{
    pub fn new(body: B, boundary: &str) -> Self {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        let mut buf = BytesMut::new();
        // A body may start with its first boundary line directly; the leading line break lets
        // one delimiter pattern find it there too.
        buf.extend_from_slice(b"\r\n");
        MultipartReader {
            body,
            body_done: false,
            delimiter,
            buf,
            state: State::Preamble,
            bytes_read: 0,
        }
    }

    /// Bytes of the body received so far (for a caller's size limit).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Reads more of the body into the buffer; false at its end.
    async fn fill(&mut self) -> Result<bool, MultipartError> {
        while !self.body_done {
            let frame = poll_fn(|cx| Pin::new(&mut self.body).poll_frame(cx)).await;
            match frame {
                None => self.body_done = true,
                Some(Err(e)) => return Err(MultipartError::Body(e.to_string())),
                Some(Ok(frame)) => {
                    if let Ok(mut data) = frame.into_data() {
                        let n = data.remaining();
                        if n == 0 {
                            continue;
                        }
                        self.bytes_read += n as u64;
                        while data.has_remaining() {
                            let c = data.chunk();
                            let len = c.len();
                            self.buf.extend_from_slice(c);
                            data.advance(len);
                        }
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }

    /// Advances to the next part and returns its headers; `None` after the closing boundary.
    /// Whatever is left of the current part's content is skipped.
    pub async fn next_part(&mut self) -> Result<Option<PartHeaders>, MultipartError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Content => while self.chunk().await?.is_some() {},
                State::Preamble => match find(&self.buf, &self.delimiter) {
                    Some(i) => {
                        self.buf.advance(i + self.delimiter.len());
                        self.state = State::AfterBoundary;
                    }
                    None => {
                        // Keep only what could be the start of the delimiter.
                        let keep = self.delimiter.len() - 1;
                        if self.buf.len() > keep {
                            self.buf.advance(self.buf.len() - keep);
                        }
                        if !self.fill().await? {
                            return Err(MultipartError::NoBoundary);
                        }
                    }
                },
                State::AfterBoundary => {
                    if self.buf.len() < 2 {
                        if !self.fill().await? {
                            return Err(MultipartError::Truncated);
                        }
                        continue;
                    }
                    if self.buf.starts_with(b"--") {
                        self.state = State::Done;
                        self.buf.clear();
                        return Ok(None);
                    }
                    // Transport padding (spaces, tabs) may precede the line break.
                    let Some(eol) = find(&self.buf, b"\r\n") else {
                        if self.buf.len() > MAX_HEADER_BYTES {
                            return Err(MultipartError::BadHeaders(
                                "boundary line too long".into(),
                            ));
                        }
                        if !self.fill().await? {
                            return Err(MultipartError::Truncated);
                        }
                        continue;
                    };
                    if self.buf[..eol].iter().any(|b| *b != b' ' && *b != b'\t') {
                        return Err(MultipartError::BadHeaders(
                            "text after a boundary on its line".into(),
                        ));
                    }
                    self.buf.advance(eol + 2);
                    self.state = State::Headers;
                }
                State::Headers => {
                    // No headers at all: the blank line follows directly.
                    if self.buf.starts_with(b"\r\n") {
                        self.buf.advance(2);
                        self.state = State::Content;
                        return Ok(Some(PartHeaders::default()));
                    }
                    match find(&self.buf, b"\r\n\r\n") {
                        Some(end) => {
                            let block = self.buf.split_to(end + 4);
                            self.state = State::Content;
                            return parse_headers(&block[..end]).map(Some);
                        }
                        None => {
                            if self.buf.len() > MAX_HEADER_BYTES {
                                return Err(MultipartError::BadHeaders(
                                    "header block too long".into(),
                                ));
                            }
                            if !self.fill().await? {
                                return Err(MultipartError::Truncated);
                            }
                        }
                    }
                }
            }
        }
    }

    /// The next piece of the current part's content; `None` at the end of the part (or when no
    /// part is open).
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, MultipartError> {
        if self.state != State::Content {
            return Ok(None);
        }
        loop {
            if let Some(i) = find(&self.buf, &self.delimiter) {
                let piece = self.buf.split_to(i).freeze();
                self.buf.advance(self.delimiter.len());
                self.state = State::AfterBoundary;
                return Ok((!piece.is_empty()).then_some(piece));
            }
            // Everything except a possible start of the delimiter is content.
            let safe = self.buf.len().saturating_sub(self.delimiter.len() - 1);
            if safe > 0 {
                return Ok(Some(self.buf.split_to(safe).freeze()));
            }
            if !self.fill().await? {
                return Err(MultipartError::Truncated);
            }
        }
    }

    /// The rest of the current part's content in one buffer, refused beyond `max` bytes.
    pub async fn part_bytes(&mut self, max: usize) -> Result<Bytes, MultipartError> {
        let mut out = BytesMut::new();
        while let Some(piece) = self.chunk().await? {
            if out.len() + piece.len() > max {
                return Err(MultipartError::PartTooLarge(max));
            }
            out.extend_from_slice(&piece);
        }
        Ok(out.freeze())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut start = 0;
    while start + needle.len() <= haystack.len() {
        let off = haystack[start..=haystack.len() - needle.len()]
            .iter()
            .position(|b| *b == first)?;
        let at = start + off;
        if &haystack[at..at + needle.len()] == needle {
            return Some(at);
        }
        start = at + 1;
    }
    None
}

fn parse_headers(block: &[u8]) -> Result<PartHeaders, MultipartError> {
    let text = std::str::from_utf8(block)
        .map_err(|_| MultipartError::BadHeaders("headers are not UTF-8".into()))?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.split("\r\n") {
        // A folded line continues the previous header (RFC 5322 §2.2.3).
        if line.starts_with([' ', '\t']) {
            match headers.last_mut() {
                Some((_, v)) => {
                    if !v.is_empty() {
                        v.push(' ');
                    }
                    v.push_str(line.trim());
                    continue;
                }
                None => return Err(MultipartError::BadHeaders("continuation first".into())),
            }
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| MultipartError::BadHeaders(format!("no colon in {line:?}")))?;
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(MultipartError::BadHeaders(format!("bad name in {line:?}")));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    Ok(PartHeaders { headers })
}

/// A parameter of a media type (`boundary`, `type`, `transfer-syntax`), unquoted; names
/// compare case-insensitively.
pub fn media_type_param(content_type: &str, name: &str) -> Option<String> {
    let mut rest = content_type.split_once(';')?.1;
    loop {
        let (key, after) = rest.split_once('=')?;
        let key = key.trim().trim_start_matches(';').trim();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, e)) = chars.next() {
                            value.push(e);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            let next = quoted[end..].split_once(';').map(|x| x.1).unwrap_or("");
            (value, next)
        } else {
            match after.split_once(';') {
                Some((v, n)) => (v.trim().to_string(), n),
                None => (after.trim().to_string(), ""),
            }
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(value);
        }
        if next.is_empty() {
            return None;
        }
        rest = next;
    }
}

/// The boundary of a `multipart/...` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let essence = content_type.split(';').next()?.trim();
    if !essence.to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    media_type_param(content_type, "boundary").filter(|b| !b.is_empty() && b.len() <= 70)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::task::{Context, Poll};

    /// A body delivered in the given pieces.
    struct Pieces(VecDeque<Bytes>);

    impl Body for Pieces {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
        }
    }

    fn split(body: &[u8], size: usize) -> Pieces {
        Pieces(body.chunks(size).map(Bytes::copy_from_slice).collect())
    }

    async fn read_all(
        body: Pieces,
        boundary: &str,
    ) -> Result<Vec<(PartHeaders, Vec<u8>)>, MultipartError> {
        let mut reader = MultipartReader::new(body, boundary);
        let mut out = Vec::new();
        while let Some(h) = reader.next_part().await? {
            let mut content = Vec::new();
            while let Some(piece) = reader.chunk().await? {
                content.extend_from_slice(&piece);
            }
            out.push((h, content));
        }
        Ok(out)
    }

    fn sample() -> Vec<u8> {
        let mut body = b"preamble\r\n--b1\r\nContent-Type: application/dicom\r\n\r\n".to_vec();
        // Content that contains a near-miss of the delimiter and raw CRLFs.
        body.extend_from_slice(b"DICM\r\n--b\r\n--b0\x00\xff");
        body.extend_from_slice(b"\r\n--b1  \r\nContent-Type: application/octet-stream\r\nContent-Location:\r\n x\r\n\r\n");
        body.extend_from_slice(b"second");
        body.extend_from_slice(b"\r\n--b1\r\n\r\n\r\n--b1--\r\nepilogue");
        body
    }

    #[tokio::test]
    async fn reads_parts_whatever_the_piece_sizes() {
        let body = sample();
        for size in [1, 2, 3, 5, 7, 13, 64, body.len()] {
            let parts = read_all(split(&body, size), "b1").await.unwrap();
            assert_eq!(parts.len(), 3, "piece size {size}");
            assert_eq!(parts[0].0.content_type(), Some("application/dicom"));
            assert_eq!(parts[0].1, b"DICM\r\n--b\r\n--b0\x00\xff");
            assert_eq!(parts[1].0.content_type(), Some("application/octet-stream"));
            assert_eq!(parts[1].0.get("Content-Location"), Some("x"));
            assert_eq!(parts[1].1, b"second");
            assert!(parts[2].0.headers.is_empty());
            assert!(parts[2].1.is_empty());
        }
    }

    #[tokio::test]
    async fn body_starting_with_the_boundary() {
        let body = b"--xyz\r\nContent-Type: a/b\r\n\r\nhello\r\n--xyz--";
        let parts = read_all(split(body, 4), "xyz").await.unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].1, b"hello");
    }

    #[tokio::test]
    async fn skipping_a_part_unread() {
        let body = sample();
        let mut reader = MultipartReader::new(split(&body, 5), "b1");
        reader.next_part().await.unwrap().unwrap();
        let second = reader.next_part().await.unwrap().unwrap();
        assert_eq!(second.content_type(), Some("application/octet-stream"));
        assert_eq!(&reader.part_bytes(100).await.unwrap()[..], b"second");
        assert!(reader.next_part().await.unwrap().is_some());
        assert!(reader.next_part().await.unwrap().is_none());
        assert!(reader.next_part().await.unwrap().is_none());
        // Everything up to the closing boundary was read, the epilogue need not be.
        let close = find(&body, b"--b1--").unwrap() + 6;
        assert!((close as u64..=body.len() as u64).contains(&reader.bytes_read()));
    }

    #[tokio::test]
    async fn malformed_bodies_are_errors() {
        let cases: [(&[u8], MultipartError); 4] = [
            (b"no boundary here", MultipartError::NoBoundary),
            (
                b"--b1\r\nContent-Type: a/b\r\n\r\nunfinished",
                MultipartError::Truncated,
            ),
            (
                b"--b1\r\nContent-Type a/b\r\n\r\nx\r\n--b1--",
                MultipartError::BadHeaders("no colon in \"Content-Type a/b\"".into()),
            ),
            (
                b"--b1junk\r\n\r\nx\r\n--b1--",
                MultipartError::BadHeaders("text after a boundary on its line".into()),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(read_all(split(body, 3), "b1").await.unwrap_err(), want);
        }
    }

    #[tokio::test]
    async fn part_size_limit() {
        let body = b"--b\r\n\r\n0123456789\r\n--b--";
        let mut reader = MultipartReader::new(split(body, 4), "b");
        reader.next_part().await.unwrap();
        assert_eq!(
            reader.part_bytes(9).await.unwrap_err(),
            MultipartError::PartTooLarge(9)
        );
    }

    #[test]
    fn media_type_parameters() {
        let ct =
            r#"multipart/related; type="application/dicom"; boundary="a b\"c";transfer-syntax=*"#;
        assert_eq!(boundary(ct).as_deref(), Some("a b\"c"));
        assert_eq!(
            media_type_param(ct, "TYPE").as_deref(),
            Some("application/dicom")
        );
        assert_eq!(
            media_type_param(ct, "transfer-syntax").as_deref(),
            Some("*")
        );
        assert_eq!(boundary("application/dicom; boundary=x"), None);
        assert_eq!(
            boundary("Multipart/Related;boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(media_type_param("application/dicom", "x"), None);
    }
}
