//! The journal: numbered segment files of records, each record `[length u32][crc32 u32][payload]`
//! (little endian), appended and fsynced before the write it holds is acknowledged. A record cut
//! short by a crash fails its length or checksum and is dropped, with everything after it, on
//! replay. Snapshots use the same framing.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Hands each record of a file to `each`, in order, without holding them all in memory; stops
/// at the first incomplete or damaged record. Returns the offset where the intact prefix ends
/// and whether anything followed it.
pub fn read_records(
    path: &Path,
    mut each: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<(u64, bool)> {
    let mut r = BufReader::new(File::open(path)?);
    let mut payload = Vec::new();
    let mut good = 0u64;
    loop {
        let mut head = [0u8; 8];
        match read_full(&mut r, &mut head)? {
            0 => return Ok((good, false)),
            8 => {}
            _ => return Ok((good, true)),
        }
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(head[4..].try_into().expect("4 bytes"));
        payload.resize(len, 0);
        if read_full(&mut r, &mut payload)? != len || crc32fast::hash(&payload) != crc {
            return Ok((good, true));
        }
        good += 8 + len as u64;
        each(&payload)?;
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(payload.len() + 8);
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    buf.extend_from_slice(payload);
    buf
}

/// Makes a directory's entries (created, renamed files) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes a file of records atomically: temp file, fsync, rename, directory fsync.
pub fn write_records_atomically(
    path: &Path,
    records: impl Iterator<Item = Vec<u8>>,
) -> io::Result<u64> {
    let tmp = path.with_extension("tmp");
    let mut w = BufWriter::new(File::create(&tmp)?);
    let mut len = 0u64;
    for r in records {
        let f = frame(&r);
        len += f.len() as u64;
        w.write_all(&f)?;
    }
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    Ok(len)
}

pub fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016}.log"))
}

/// Segment numbers present in the journal folder, ascending.
pub fn segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut out: Vec<u64> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".log")?.parse().ok()
        })
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// The segment being appended to.
pub struct Segment {
    pub seq: u64,
    /// Shared with writers that fsync after letting go of the segment.
    file: Arc<File>,
    pub len: u64,
    /// Set when a failed append could not be undone: nothing more may be appended after it.
    broken: bool,
}

impl Segment {
    pub fn create(dir: &Path, seq: u64) -> io::Result<Self> {
        // Append mode: after a failed write is cut off, the next record lands at the new end.
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(segment_path(dir, seq))?;
        file.set_len(0)?;
        file.sync_all()?;
        sync_dir(dir)?;
        Ok(Self {
            seq,
            file: Arc::new(file),
            len: 0,
            broken: false,
        })
    }

    /// Appends one record and waits until it is on disk.
    pub fn append(&mut self, payload: &[u8]) -> io::Result<()> {
        self.write(payload)?.sync_data()
    }

    /// Appends one record without waiting for the disk; returns the file to fsync before the
    /// write is acknowledged (an fsync covers every record written before it).
    pub fn write(&mut self, payload: &[u8]) -> io::Result<Arc<File>> {
        if self.broken {
            return Err(io::Error::other(
                "the journal is damaged by an earlier failed write; restart the local HealthImaging",
            ));
        }
        let buf = frame(payload);
        match (&*self.file).write_all(&buf) {
            Ok(()) => {
                self.len += buf.len() as u64;
                Ok(self.file.clone())
            }
            Err(e) => {
                // A torn record must not sit in front of later ones: cut it off.
                if self
                    .file
                    .set_len(self.len)
                    .and_then(|()| self.file.sync_data())
                    .is_err()
                {
                    self.broken = true;
                }
                Err(e)
            }
        }
    }

    /// Waits until everything written to this segment is on disk.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

#[cfg(test)]
impl Segment {
    /// Makes every later append fail, as a full or failing disk would.
    pub fn fail_for_test(&mut self) {
        self.broken = true;
    }
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Segment({}, {} bytes)", self.seq, self.len)
    }
}
