//! One UID mapping per export job: every UID maps to `2.25.<128-bit number>` derived from the
//! job's secret with HMAC-SHA256, so the same UID maps the same in every instance, and a
//! resumed job (same secret) maps as before. The pairs mapped are kept for an identity map.
//! The same key gives the dummy values of text attributes (`pseudonym`), so one patient's ID
//! stays one (new) ID across the instances and studies of a job.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_lc_rs::hmac;

/// Consistent UID replacement; shared by the instances of a job (`&self`, thread-safe).
pub struct UidMap {
    key: hmac::Key,
    pairs: Mutex<BTreeMap<String, String>>,
}

impl std::fmt::Debug for UidMap {
    // The key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UidMap").finish_non_exhaustive()
    }
}

impl UidMap {
    pub fn new(secret: [u8; 32]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            pairs: Mutex::new(BTreeMap::new()),
        }
    }

    /// A fresh random secret for a new job (the job keeps it to resume with the same map).
    pub fn generate_secret() -> [u8; 32] {
        rand::random()
    }

    /// The replacement of `uid` (trailing NUL/space padding ignored). The 128 bits are made a
    /// version 8 (custom) UUID, as the `2.25` root expects an UUID's integer value.
    pub fn map(&self, uid: &str) -> String {
        let uid = uid.trim_end_matches(['\0', ' ']);
        let mut pairs = self.pairs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mapped) = pairs.get(uid) {
            return mapped.clone();
        }
        let tag = hmac::sign(&self.key, uid.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&tag.as_ref()[..16]);
        bytes[6] = (bytes[6] & 0x0F) | 0x80;
        bytes[8] = (bytes[8] & 0x3F) | 0x80;
        let mapped = format!("2.25.{}", u128::from_be_bytes(bytes));
        pairs.insert(uid.to_string(), mapped.clone());
        mapped
    }

    /// The dummy value of a text attribute: `ANON` and 12 hex digits of HMAC-SHA256 of the
    /// value, 16 characters, valid for every text VR (AE, CS and SH hold 16), equal for equal
    /// values and unrelated to the value without the secret.
    pub fn pseudonym(&self, value: &str) -> String {
        let value = value.trim_end_matches(['\0', ' ']);
        let mut message = b"dummy\0".to_vec();
        message.extend_from_slice(value.as_bytes());
        let tag = hmac::sign(&self.key, &message);
        format!("ANON{}", hex::encode_upper(&tag.as_ref()[..6]))
    }

    /// Every (original, replacement) pair mapped so far, ordered by original.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let pairs = self.pairs.lock().unwrap_or_else(|e| e.into_inner());
        pairs.iter().map(|(a, b)| (a.clone(), b.clone())).collect()
    }
}
