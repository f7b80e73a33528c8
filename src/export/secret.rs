//! The secret a de-identifying export maps UIDs (and pseudonyms) under: HMAC-SHA256 of the job
//! ID under a key of this server, kept in the job state folder (`export-uid.key`, owner-only),
//! so a resumed job maps exactly as before while the records (and the job ID, which the summary
//! shows) never hold anything that reproduces the mapping. Without a state folder the key lives
//! as long as the process (jobs do not survive it then either).

use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use crate::engine::{EngineError, EngineResult};

const KEY_FILE: &str = "export-uid.key";

fn read_or_create(dir: &Path) -> EngineResult<[u8; 32]> {
    let path = dir.join(KEY_FILE);
    if let Ok(bytes) = std::fs::read(&path) {
        if let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) {
            return Ok(key);
        }
    }
    let key: [u8; 32] = rand::random();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&path)
        .and_then(|mut f| f.write_all(&key).and_then(|_| f.sync_all()));
    match written {
        Ok(()) => Ok(key),
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(&path)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or_else(|| EngineError::server(format!("{} is unreadable", path.display()))),
        Err(e) => Err(EngineError::server(format!(
            "the export key cannot be written in {}: {e}",
            dir.display()
        ))),
    }
}

fn server_key() -> EngineResult<[u8; 32]> {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    if let Some(k) = KEY.get() {
        return Ok(*k);
    }
    let key = match crate::jobs::runtime().state_folder() {
        Some(dir) => read_or_create(dir)?,
        None => rand::random(),
    };
    Ok(*KEY.get_or_init(|| key))
}

/// The job's secret: HMAC-SHA256(server key, job ID).
pub fn job_secret(job_id: &str) -> EngineResult<[u8; 32]> {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &server_key()?);
    let tag = aws_lc_rs::hmac::sign(&key, job_id.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let a = read_or_create(dir.path()).unwrap();
        let b = read_or_create(dir.path()).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0);
        }
        assert_ne!(job_secret("a").unwrap(), job_secret("b").unwrap());
        assert_eq!(job_secret("a").unwrap(), job_secret("a").unwrap());
    }
}
