//! One process per data folder: an advisory lock on `<data>/LOCK`, which holds the owner's PID.
//! The kernel drops the lock when its process dies, so a lock left by a killed process is simply
//! taken over.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const LOCK: &str = "LOCK";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("data folder {dir} is in use by another local HealthImaging (process {pid}); stop it or choose another --data-dir")]
    Held { dir: PathBuf, pid: String },
    #[error("cannot lock data folder {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// Held for as long as the data folder is open.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let io = |e| LockError::Io(dir.to_path_buf(), e);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(LockError::Held {
                    dir: dir.to_path_buf(),
                    pid: if pid.is_empty() {
                        "unknown".into()
                    } else {
                        pid.into()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(Self { _file: file })
    }
}
