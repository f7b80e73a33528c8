//! Durable state in the data folder. A write is acknowledged only once it is on disk:
//!
//! - `journal/<n>.log`: one record per write (what it changed), appended and fsynced before the
//!   answer goes out. A new segment starts when the current one outgrows the last snapshot;
//!   closed segments are folded into a new snapshot by a background thread that works from the
//!   files alone, so the cost of a write never depends on the size of the store.
//! - `snapshot-<n>.log`: the state as of the end of segment `n` (written to a temp file, fsynced,
//!   renamed, directory fsynced). Start = newest snapshot + the segments after it.
//! - `frames/<frame id>`: pixel data, written and fsynced before the record that references it,
//!   removed once no image set references it (files no record references are removed at start).
//!   Frames are read when first served, not at start (a bounded cache keeps recent ones).
//! - `LOCK`: held by the running process (see `lock`).

pub mod journal;
mod lock;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use serde::Deserialize;

pub use lock::{DirLock, LockError, LOCK};

use super::state::{
    Change, DatastoreInfo, ImageSet, ImportJob, Store, CACHE_BYTES as FRAME_CACHE_BYTES,
};
use journal::Segment;

const JOURNAL: &str = "journal";
const FRAMES: &str = "frames";
/// The single-file state of earlier versions, migrated to a snapshot at first start.
const LEGACY_STATE: &str = "state.json";
/// Smallest segment size before a new segment (and a compaction) starts.
pub const SEGMENT_BYTES: u64 = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error("{0}: {1}")]
    Io(PathBuf, io::Error),
    #[error("{0} is damaged: {1}")]
    Corrupt(PathBuf, serde_json::Error),
}

/// A journal record written but not yet known to be on disk.
#[must_use = "a write is durable only once `finish` returns"]
pub struct Unsynced {
    file: Arc<std::fs::File>,
    failed: Arc<AtomicBool>,
    #[cfg(test)]
    before_sync: Option<SyncHook>,
}

#[cfg(test)]
pub type SyncHook = Arc<dyn Fn() + Send + Sync>;

impl Unsynced {
    /// Waits until the record (and every record written before it) is on disk. A failure leaves
    /// the journal in doubt, so every later write fails too.
    pub fn finish(self) -> io::Result<()> {
        #[cfg(test)]
        if let Some(hook) = &self.before_sync {
            hook();
        }
        self.file.sync_data().inspect_err(|_| {
            self.failed.store(true, Ordering::SeqCst);
        })
    }
}

/// The open data folder.
pub struct Persistence {
    dir: PathBuf,
    segment: Mutex<Segment>,
    /// Size of the newest snapshot: a segment may grow this large before compaction.
    snapshot_len: Arc<AtomicU64>,
    segment_bytes: u64,
    /// Set when an fsync failed: what reached the disk is unknown, so no more writes.
    failed: Arc<AtomicBool>,
    compactor: Mutex<Option<JoinHandle<()>>>,
    _lock: DirLock,
    /// Runs before each write's fsync (tests hold a write there).
    #[cfg(test)]
    pub before_sync: Mutex<Option<SyncHook>>,
}

fn snapshot_path(dir: &Path, through: u64) -> PathBuf {
    dir.join(format!("snapshot-{through:016}.log"))
}

/// Snapshot numbers in the folder, ascending.
fn snapshots(dir: &Path) -> io::Result<Vec<u64>> {
    let mut out: Vec<u64> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("snapshot-")?
                .strip_suffix(".log")?
                .parse()
                .ok()
        })
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// Replays every record of `path` into `store`; returns the intact length and whether a torn
/// record followed it.
fn apply_records(store: &mut Store, path: &Path) -> Result<(u64, bool), OpenError> {
    let mut corrupt = None;
    let read = journal::read_records(path, |r| {
        let changes: Vec<Change> = serde_json::from_slice(r).map_err(|e| {
            corrupt = Some(e);
            io::Error::other("damaged record")
        })?;
        changes.into_iter().for_each(|c| store.apply(c));
        Ok(())
    });
    match (read, corrupt) {
        (_, Some(e)) => Err(OpenError::Corrupt(path.to_path_buf(), e)),
        (Ok(r), None) => Ok(r),
        (Err(e), None) => Err(OpenError::Io(path.to_path_buf(), e)),
    }
}

/// The state of `dir` as of the end of segment `through` (newest snapshot at or before it, then
/// the segments up to it). Returns the store and the last segment number seen.
fn replay(dir: &Path, through: Option<u64>) -> Result<(Store, u64), OpenError> {
    let io_err = |p: &Path| {
        let p = p.to_path_buf();
        move |e| OpenError::Io(p, e)
    };
    let mut store = Store::default();
    let base = snapshots(dir)
        .map_err(io_err(dir))?
        .into_iter()
        .rfind(|n| through.is_none_or(|t| *n <= t));
    if let Some(n) = base {
        let path = snapshot_path(dir, n);
        let (_, torn) = apply_records(&mut store, &path)?;
        if torn {
            return Err(OpenError::Io(
                path,
                io::Error::other("snapshot is incomplete"),
            ));
        }
    } else {
        let legacy = dir.join(LEGACY_STATE);
        if legacy.exists() {
            for c in legacy_changes(&legacy)? {
                store.apply(c);
            }
        }
    }
    let jdir = dir.join(JOURNAL);
    let mut last = base.unwrap_or(0);
    for seq in journal::segments(&jdir).map_err(io_err(&jdir))? {
        if base.is_some_and(|b| seq <= b) || through.is_some_and(|t| seq > t) {
            continue;
        }
        let path = journal::segment_path(&jdir, seq);
        let (good, torn) = apply_records(&mut store, &path)?;
        if torn && through.is_none() {
            // The tail of a write that was never acknowledged.
            tracing::warn!(
                "dropping an incomplete journal record at the end of {}",
                path.display()
            );
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(io_err(&path))?;
            f.set_len(good)
                .and_then(|()| f.sync_all())
                .map_err(io_err(&path))?;
        }
        last = last.max(seq);
    }
    Ok((store, last))
}

/// `state.json` of earlier versions: data stores with their image sets and jobs inline.
fn legacy_changes(path: &Path) -> Result<Vec<Change>, OpenError> {
    #[derive(Deserialize)]
    struct LegacyDatastore {
        #[serde(flatten)]
        info: DatastoreInfo,
        image_sets: BTreeMap<String, ImageSet>,
        jobs: BTreeMap<String, ImportJob>,
    }
    #[derive(Deserialize)]
    struct Legacy {
        datastores: BTreeMap<String, LegacyDatastore>,
        tags: BTreeMap<String, BTreeMap<String, String>>,
    }
    let bytes = std::fs::read(path).map_err(|e| OpenError::Io(path.to_path_buf(), e))?;
    let legacy: Legacy =
        serde_json::from_slice(&bytes).map_err(|e| OpenError::Corrupt(path.to_path_buf(), e))?;
    let mut out = Vec::new();
    for (_, ds) in legacy.datastores {
        let id = ds.info.id.clone();
        out.push(Change::Datastore(ds.info));
        out.extend(ds.image_sets.into_values().map(|set| Change::ImageSet {
            datastore: id.clone(),
            set,
        }));
        out.extend(ds.jobs.into_values().map(|job| Change::Job {
            datastore: id.clone(),
            job,
        }));
    }
    out.extend(
        legacy
            .tags
            .into_iter()
            .map(|(arn, tags)| Change::Tags { arn, tags }),
    );
    Ok(out)
}

/// Folds the segments up to `through` into a new snapshot, from the files alone.
fn compact(dir: &Path, through: u64) -> io::Result<u64> {
    let (store, _) = replay(dir, Some(through)).map_err(io::Error::other)?;
    let len =
        journal::write_records_atomically(&snapshot_path(dir, through), store.snapshot_records())?;
    remove_before(dir, through);
    Ok(len)
}

/// Removes snapshots older than `through` and segments it covers.
fn remove_before(dir: &Path, through: u64) {
    for n in snapshots(dir).unwrap_or_default() {
        if n < through {
            let _ = std::fs::remove_file(snapshot_path(dir, n));
        }
    }
    let jdir = dir.join(JOURNAL);
    for seq in journal::segments(&jdir).unwrap_or_default() {
        if seq <= through {
            let _ = std::fs::remove_file(journal::segment_path(&jdir, seq));
        }
    }
    let _ = std::fs::remove_file(dir.join(LEGACY_STATE));
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Persistence {
    /// Locks the folder and loads its state; frames no record references are removed.
    pub fn open(dir: &Path) -> Result<(Self, Store), OpenError> {
        Self::open_with(dir, SEGMENT_BYTES)
    }

    pub fn open_with(dir: &Path, segment_bytes: u64) -> Result<(Self, Store), OpenError> {
        let io_err = |p: &Path| {
            let p = p.to_path_buf();
            move |e| OpenError::Io(p, e)
        };
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock = DirLock::acquire(dir)?;
        let jdir = dir.join(JOURNAL);
        let fdir = dir.join(FRAMES);
        std::fs::create_dir_all(&jdir).map_err(io_err(&jdir))?;
        std::fs::create_dir_all(&fdir).map_err(io_err(&fdir))?;
        // A snapshot cut off by a crash before its rename.
        for entry in std::fs::read_dir(dir).map_err(io_err(dir))?.flatten() {
            if entry.file_name().to_string_lossy().ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let (mut store, last) = replay(dir, None)?;
        store.index_frames();
        // Frames are read when first asked for, not now: start costs metadata only.
        for entry in std::fs::read_dir(&fdir).map_err(io_err(&fdir))?.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if !store.frame_referenced(&id) {
                // Written by a write that never completed, or left by a delete cut short.
                let _ = std::fs::remove_file(entry.path());
            }
        }
        store.keep_frames_in(fdir, FRAME_CACHE_BYTES);
        let segment = Segment::create(&jdir, last + 1).map_err(io_err(&jdir))?;
        let snapshot_len = snapshots(dir)
            .ok()
            .and_then(|s| s.last().copied())
            .and_then(|n| std::fs::metadata(snapshot_path(dir, n)).ok())
            .map_or(0, |m| m.len());
        let p = Self {
            dir: dir.to_path_buf(),
            segment: Mutex::new(segment),
            snapshot_len: Arc::new(AtomicU64::new(snapshot_len)),
            segment_bytes,
            failed: Arc::new(AtomicBool::new(false)),
            compactor: Mutex::new(None),
            _lock: lock,
            #[cfg(test)]
            before_sync: Mutex::new(None),
        };
        if dir.join(LEGACY_STATE).exists() {
            p.snapshot(&store).map_err(io_err(dir))?;
        }
        Ok((p, store))
    }

    /// Appends one write's record and returns once it is on disk.
    pub fn append(&self, record: &[u8]) -> io::Result<()> {
        self.begin(record)?.finish()
    }

    /// Appends one write's record in journal order without waiting for the disk, so the caller
    /// can let go of the store first; the write is durable once `Unsynced::finish` returns.
    pub fn begin(&self, record: &[u8]) -> io::Result<Unsynced> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(io::Error::other(
                "an earlier journal write failed to reach the disk; restart the local HealthImaging",
            ));
        }
        let mut seg = lock(&self.segment);
        let file = seg.write(record)?;
        if seg.len
            >= self
                .segment_bytes
                .max(self.snapshot_len.load(Ordering::Relaxed))
        {
            // Every record of a closed segment is on disk before the next segment gets one, so
            // a record acknowledged from the next segment never outlives one before it.
            if let Err(e) = seg.sync() {
                self.failed.store(true, Ordering::SeqCst);
                return Err(e);
            }
            let closed = seg.seq;
            match Segment::create(&self.dir.join(JOURNAL), closed + 1) {
                Ok(next) => {
                    *seg = next;
                    drop(seg);
                    self.start_compaction(closed);
                }
                // The record itself is written; keep appending to the current segment.
                Err(e) => tracing::error!("cannot start a new journal segment: {e}"),
            }
        }
        Ok(Unsynced {
            file,
            failed: self.failed.clone(),
            #[cfg(test)]
            before_sync: lock(&self.before_sync).clone(),
        })
    }

    fn start_compaction(&self, through: u64) {
        let mut slot = lock(&self.compactor);
        if slot.as_ref().is_some_and(|h| !h.is_finished()) {
            return; // the next segment change folds these segments in too
        }
        let dir = self.dir.clone();
        let len = self.snapshot_len.clone();
        let spawned = std::thread::Builder::new()
            .name("healthimaging-local-compact".into())
            .spawn(move || match compact(&dir, through) {
                Ok(n) => len.store(n, Ordering::Relaxed),
                Err(e) => tracing::error!("journal compaction failed: {e}"),
            });
        match spawned {
            Ok(h) => *slot = Some(h),
            Err(e) => tracing::error!("cannot start journal compaction: {e}"),
        }
    }

    /// Writes the whole state from memory as a snapshot (at shutdown, so the next start reads
    /// one file). The caller holds the store's write lock, so no write lands in between.
    pub fn snapshot(&self, store: &Store) -> io::Result<()> {
        if let Some(h) = lock(&self.compactor).take() {
            let _ = h.join();
        }
        let mut seg = lock(&self.segment);
        let through = seg.seq;
        *seg = Segment::create(&self.dir.join(JOURNAL), through + 1)?;
        let len = journal::write_records_atomically(
            &snapshot_path(&self.dir, through),
            store.snapshot_records(),
        )?;
        self.snapshot_len.store(len, Ordering::Relaxed);
        remove_before(&self.dir, through);
        Ok(())
    }

    /// Writes frames and waits until they are on disk (before any record references them).
    pub fn write_frames<'a>(
        &self,
        frames: impl Iterator<Item = (&'a str, &'a [u8])>,
    ) -> io::Result<()> {
        use std::io::Write;
        let fdir = self.dir.join(FRAMES);
        for (id, bytes) in frames {
            let mut f = std::fs::File::create(self.frame_path(id))?;
            f.write_all(bytes)?;
            f.sync_data()?;
        }
        journal::sync_dir(&fdir)
    }

    /// Removes frames no image set references any more. A removal lost to a crash leaves a file
    /// no record references, which the next start removes.
    pub fn remove_frames(&self, ids: &[String]) {
        let fdir = self.dir.join(FRAMES);
        for id in ids {
            if let Err(e) = std::fs::remove_file(fdir.join(id)) {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::error!("cannot remove frame file {id}: {e}");
                }
            }
        }
    }

    /// Where frame `id` is stored.
    pub fn frame_path(&self, id: &str) -> PathBuf {
        self.dir.join(FRAMES).join(id)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    #[cfg(test)]
    pub fn fail_for_test(&self) {
        lock(&self.segment).fail_for_test();
    }
}

impl Drop for Persistence {
    fn drop(&mut self) {
        if let Some(h) = lock(&self.compactor).take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::state::{NewDatastore, Store};

    fn create(store: &mut Store, n: usize) {
        store.create_datastore(
            NewDatastore {
                name: Some(format!("ds-{n}")),
                client_token: format!("token-{n}"),
                tags: Some([("n".to_string(), n.to_string())].into()),
                ..NewDatastore::default()
            },
            |id| format!("arn:aws:medical-imaging:r:1:datastore/{id}"),
        );
    }

    fn names(store: &Store) -> Vec<String> {
        let mut v: Vec<String> = store.datastores().map(|d| d.info.name.clone()).collect();
        v.sort();
        v
    }

    #[test]
    fn segments_are_compacted_and_replayed_to_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let (p, mut store) = Persistence::open_with(dir.path(), 512).unwrap();
        for n in 0..200 {
            create(&mut store, n);
            let commit = store.take_changes();
            p.append(&commit.record.unwrap()).unwrap();
        }
        let expected = names(&store);
        drop(p); // waits for a compaction in progress
        let snaps = snapshots(dir.path()).unwrap();
        assert_eq!(snaps.len(), 1, "old snapshots are removed");
        let segs = journal::segments(&dir.path().join(JOURNAL)).unwrap();
        assert!(
            segs.iter().all(|s| *s > snaps[0]),
            "covered segments are removed"
        );
        let (_p, again) = Persistence::open(dir.path()).unwrap();
        assert_eq!(names(&again), expected);
        assert_eq!(again.datastores().count(), 200);
    }

    #[test]
    fn a_torn_record_at_the_end_is_dropped_and_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let (p, mut store) = Persistence::open(dir.path()).unwrap();
        create(&mut store, 1);
        p.append(&store.take_changes().record.unwrap()).unwrap();
        create(&mut store, 2);
        let torn = journal::frame(&store.take_changes().record.unwrap());
        drop(p);
        let jdir = dir.path().join(JOURNAL);
        let last = *journal::segments(&jdir).unwrap().first().unwrap();
        let path = journal::segment_path(&jdir, last);
        let mut bytes = std::fs::read(&path).unwrap();
        let good = bytes.len() as u64;
        bytes.extend_from_slice(&torn[..torn.len() - 3]);
        std::fs::write(&path, bytes).unwrap();
        let (_p, again) = Persistence::open(dir.path()).unwrap();
        assert_eq!(names(&again), vec!["ds-1".to_string()]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
    }

    #[test]
    fn frames_are_read_when_first_served_not_at_start() {
        use crate::local::{document, seed};
        let dir = tempfile::tempdir().unwrap();
        let spec = seed::SyntheticSpec {
            image_sets: 20,
            sets_per_patient: 5,
            frame_bytes: 1000,
        };
        let ds_id = seed::synthetic(dir.path(), &spec).unwrap().datastore_id;
        let (_p, store) = Persistence::open(dir.path()).unwrap();
        assert_eq!(store.frames_in_memory(), (0, 0), "nothing read at start");
        let ds = store.live_datastore(&ds_id).unwrap();
        assert_eq!(ds.image_sets().len(), 20);
        let set = ds.image_sets().values().next().unwrap();
        let (_, _, inst) = document::instances(&set.latest().document).next().unwrap();
        let frame = inst["ImageFrames"][0]["ID"].as_str().unwrap();
        let (blob, _) = store.image_frame(&ds_id, &set.id, frame).unwrap();
        assert_eq!(blob.bytes.as_ref(), vec![0x5au8; 1000].as_slice());
        assert_eq!(
            store.frames_in_memory(),
            (1, 1000),
            "served frames are cached"
        );
    }

    #[test]
    fn a_second_open_of_the_folder_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let _held = Persistence::open(dir.path()).unwrap();
        match Persistence::open(dir.path()) {
            Err(OpenError::Locked(LockError::Held { pid, .. })) => {
                assert_eq!(pid, std::process::id().to_string())
            }
            other => panic!("expected the lock to be held, got {:?}", other.err()),
        }
    }
}
