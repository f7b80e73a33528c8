//! Frame bytes. Without a data folder every frame stays in memory. With one, a frame is durable in
//! `frames/<id>` before any image set references it, so memory holds only a bounded cache of
//! recently served frames: a frame is read from its file the first time it is asked for, and the
//! start of the server reads metadata only.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

/// Bytes of frames kept in memory for a data folder's frames.
pub const CACHE_BYTES: usize = 64 << 20;

/// Recently served frames, oldest evicted first once over the byte budget.
#[derive(Default)]
struct Cache {
    frames: HashMap<String, Bytes>,
    order: VecDeque<String>,
    bytes: usize,
    limit: usize,
}

impl Cache {
    fn put(&mut self, id: &str, bytes: Bytes) {
        if bytes.len() > self.limit || self.frames.contains_key(id) {
            return;
        }
        // A stale entry for this id may still be queued; it only makes this one leave earlier.
        self.bytes += bytes.len();
        self.frames.insert(id.to_string(), bytes);
        self.order.push_back(id.to_string());
        while self.bytes > self.limit {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(b) = self.frames.remove(&old) {
                self.bytes -= b.len();
            }
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(b) = self.frames.remove(id) {
            self.bytes -= b.len();
            // Stale entries in `order` are skipped by eviction; drop them once they dominate,
            // so removing many frames costs no scan per frame.
            if self.order.len() > 2 * self.frames.len() + 64 {
                let frames = &self.frames;
                self.order.retain(|o| frames.contains_key(o));
            }
        }
    }
}

#[derive(Default)]
pub struct Frames {
    /// Every frame, when there is no data folder.
    resident: HashMap<String, Bytes>,
    /// The data folder's `frames/`, when frames are durable there.
    dir: Option<PathBuf>,
    /// Shared by concurrent reads of the store, hence the lock.
    cache: Mutex<Cache>,
}

impl Frames {
    /// Frames from now on live in `dir` (each written there before it is inserted).
    pub fn keep_in(&mut self, dir: PathBuf, cache_bytes: usize) {
        self.dir = Some(dir);
        let cache = self.cache.get_mut().unwrap_or_else(PoisonError::into_inner);
        cache.limit = cache_bytes;
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a frame an import just stored (durably, when there is a data folder).
    pub fn insert(&mut self, id: String, bytes: Bytes) {
        match self.dir {
            Some(_) => self.cache().put(&id, bytes),
            None => {
                self.resident.insert(id, bytes);
            }
        }
    }

    /// A frame's bytes, shared rather than copied; read from its file on a cache miss.
    /// `Ok(None)` when the frame is nowhere to be found.
    pub fn get(&self, id: &str) -> io::Result<Option<Bytes>> {
        if let Some(b) = self.resident.get(id) {
            return Ok(Some(b.clone()));
        }
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        if let Some(b) = self.cache().frames.get(id) {
            return Ok(Some(b.clone()));
        }
        let bytes = match std::fs::read(dir.join(id)) {
            Ok(b) => Bytes::from(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        self.cache().put(id, bytes.clone());
        Ok(Some(bytes))
    }

    /// Forgets a frame no image set references any more (its file is removed by the caller).
    pub fn remove(&mut self, id: &str) {
        self.resident.remove(id);
        self.cache().remove(id);
    }

    /// How many frames, and how many bytes of them, are held in memory.
    pub fn in_memory(&self) -> (usize, usize) {
        let cache = self.cache();
        let resident: usize = self.resident.values().map(Bytes::len).sum();
        (
            self.resident.len() + cache.frames.len(),
            resident + cache.bytes,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_within_its_budget_and_reads_files_on_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let mut frames = Frames::default();
        frames.keep_in(dir.path().to_path_buf(), 25);
        for n in 0..4u8 {
            std::fs::write(dir.path().join(format!("f{n}")), vec![n; 10]).unwrap();
        }
        assert_eq!(frames.in_memory(), (0, 0));
        for n in 0..4u8 {
            let got = frames.get(&format!("f{n}")).unwrap().unwrap();
            assert_eq!(got.as_ref(), vec![n; 10].as_slice());
        }
        // Two frames of ten bytes fit in 25.
        assert_eq!(frames.in_memory(), (2, 20));
        assert!(frames.get("missing").unwrap().is_none());
        frames.remove("f3");
        assert_eq!(frames.in_memory(), (1, 10));
        // Frames that come and go (imports, then deletes) leave no trail behind.
        for n in 0..1000 {
            frames.insert(format!("g{n}"), Bytes::from_static(b"x"));
            frames.remove(&format!("g{n}"));
        }
        assert_eq!(frames.in_memory(), (1, 10));
        assert!(frames.cache().order.len() <= 2 + 64);
    }
}
