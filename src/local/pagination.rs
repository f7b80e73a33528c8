//! Opaque page tokens for the four paginated operations. A token records the offset and a
//! fingerprint of the query it belongs to; reusing it with another query is a validation error.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::error::{ApiError, ApiResult};

/// Page size when `maxResults` is omitted.
pub const DEFAULT_PAGE: usize = 50;

fn fingerprint(query: &str) -> String {
    hex::encode(&Sha256::digest(query.as_bytes())[..8])
}

fn bad_token() -> ApiError {
    ApiError::validation(
        "Invalid pagination token: it is malformed, expired, or belongs to a different request",
    )
}

/// One page of `items`. `query` identifies the request the token is bound to.
/// Returns the page and the next token (`None` on the last page).
pub fn page<T: Clone>(
    items: &[T],
    max_results: Option<usize>,
    token: Option<&str>,
    query: &str,
) -> ApiResult<(Vec<T>, Option<String>)> {
    let start = match token {
        None => 0,
        Some(t) => {
            let raw = URL_SAFE_NO_PAD.decode(t).map_err(|_| bad_token())?;
            let raw = String::from_utf8(raw).map_err(|_| bad_token())?;
            let (offset, fp) = raw.split_once(':').ok_or_else(bad_token)?;
            if fp != fingerprint(query) {
                return Err(bad_token());
            }
            offset.parse::<usize>().map_err(|_| bad_token())?
        }
    };
    let size = max_results.unwrap_or(DEFAULT_PAGE);
    let end = (start + size).min(items.len());
    let page = items.get(start..end).map(<[T]>::to_vec).unwrap_or_default();
    let next = (end < items.len())
        .then(|| URL_SAFE_NO_PAD.encode(format!("{end}:{}", fingerprint(query))));
    Ok((page, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_through_and_binds_token_to_query() {
        let items: Vec<u32> = (0..7).collect();
        let (p1, t1) = page(&items, Some(3), None, "q").unwrap();
        assert_eq!(p1, vec![0, 1, 2]);
        let (p2, t2) = page(&items, Some(3), t1.as_deref(), "q").unwrap();
        assert_eq!(p2, vec![3, 4, 5]);
        let (p3, t3) = page(&items, Some(3), t2.as_deref(), "q").unwrap();
        assert_eq!(p3, vec![6]);
        assert!(t3.is_none());
        assert!(page(&items, Some(3), t1.as_deref(), "other").is_err());
        assert!(page(&items, Some(3), Some("!!"), "q").is_err());
    }
}
