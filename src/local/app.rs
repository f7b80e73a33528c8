//! The shared application state: the store behind a read/write lock, the account, the signature
//! verifier, request counters, quotas and injected faults, and the data folder. Writes go through
//! `App::write`, which makes whatever the write changed durable before it returns, so no caller
//! can forget to save. The journal's fsync happens after the store's lock is released, so reads
//! do not wait for the disk (a write is still acknowledged only once it is durable).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, RwLock, RwLockReadGuard};

use super::error::{ApiError, ApiResult};
use super::faults::{Faults, OperationCounters};
use super::persist::Persistence;
use super::quotas::Quotas;
use super::sigv4::Verifier;
use super::state::{Account, Store};

/// Request counters, for tests that prove concurrency (peak requests in flight).
#[derive(Default)]
pub struct Stats {
    pub in_flight: AtomicUsize,
    pub peak_in_flight: AtomicUsize,
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    /// Requests answered with ConflictException (409).
    pub conflicts: AtomicU64,
    /// The User-Agent of the latest request (clients are expected to identify themselves).
    pub last_user_agent: Mutex<String>,
    /// Per operation: how its requests were disposed of by the quotas and fault rules.
    pub operations: OperationCounters,
}

pub struct InFlight<'a>(&'a Stats);

impl Stats {
    pub fn enter(&self) -> InFlight<'_> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct App {
    store: RwLock<Store>,
    pub account: Account,
    pub verifier: Verifier,
    pub s3_root: PathBuf,
    pub stats: Stats,
    pub throttle_rate: f64,
    pub latency: std::time::Duration,
    /// The service's throttle table, when enforced.
    pub quotas: Quotas,
    /// Injected faults.
    pub faults: Faults,
    /// The open data folder; `None` keeps everything in memory.
    persistence: Option<Persistence>,
    /// The port the server is bound to, once it is (DICOMweb builds absolute URLs with it when
    /// a client's Host header names a loopback address without its port).
    pub bound_port: std::sync::OnceLock<u16>,
}

impl App {
    pub fn new(
        store: Store,
        account: Account,
        verifier: Verifier,
        s3_root: PathBuf,
        persistence: Option<Persistence>,
    ) -> Self {
        Self {
            store: RwLock::new(store),
            account,
            verifier,
            s3_root,
            stats: Stats::default(),
            throttle_rate: 0.0,
            latency: std::time::Duration::ZERO,
            quotas: Quotas::default(),
            faults: Faults::default(),
            persistence,
            bound_port: std::sync::OnceLock::new(),
        }
    }

    /// The data folder, when state is kept on disk.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self.persistence.as_ref().map(Persistence::dir)
    }

    /// Shared access for reads. A panic in another request does not take the store down with it.
    /// Asynchronous writes whose time has come are completed first (journaled like any write).
    pub fn read(&self) -> RwLockReadGuard<'_, Store> {
        let store = self.store.read().unwrap_or_else(PoisonError::into_inner);
        if !store.writes_due() {
            return store;
        }
        drop(store);
        if let Err(e) = self.write(|_| Ok(())) {
            tracing::error!(
                "completed asynchronous writes could not be stored: {}",
                e.message
            );
        }
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs a write and makes what it changed durable before returning (whether `f` succeeded or
    /// not: a failed write may have changed nothing, or part of what it checked). If the change
    /// cannot be stored, the write fails with InternalServerException.
    pub fn write<T>(&self, f: impl FnOnce(&mut Store) -> ApiResult<T>) -> ApiResult<T> {
        let mut store = self.store.write().unwrap_or_else(PoisonError::into_inner);
        store.settle_due();
        let out = f(&mut store);
        let commit = store.take_changes();
        let not_durable = |e: std::io::Error| {
            tracing::error!("a write could not be stored durably: {e}");
            ApiError::internal(
                "The change could not be stored durably; it may or may not have been applied",
            )
        };
        // The record is written in order under the lock; readers need not wait for the fsync.
        let unsynced = match (&commit.record, &self.persistence) {
            (Some(record), Some(p)) => Some(p.begin(record).map_err(not_durable)?),
            _ => None,
        };
        drop(store);
        if let Some(u) = unsynced {
            u.finish().map_err(not_durable)?;
        }
        if let Some(p) = &self.persistence {
            p.remove_frames(&commit.dropped_frames);
        }
        out
    }

    /// Stores frame bytes durably, before the write that references them.
    pub fn store_frames(&self, frames: &[(String, Vec<u8>)]) -> ApiResult<()> {
        let Some(p) = &self.persistence else {
            return Ok(());
        };
        p.write_frames(frames.iter().map(|(id, b)| (id.as_str(), b.as_slice())))
            .map_err(|e| {
                tracing::error!("frames could not be stored: {e}");
                ApiError::internal("Image frames could not be stored")
            })
    }

    /// Writes the whole state as a snapshot (shutdown), so the next start reads one file.
    pub fn save(&self) -> std::io::Result<()> {
        match &self.persistence {
            Some(p) => {
                let store = self.store.write().unwrap_or_else(PoisonError::into_inner);
                p.snapshot(&store)
            }
            None => Ok(()),
        }
    }

    pub fn should_throttle(&self) -> bool {
        if self.throttle_rate > 0.0 && rand::random::<f64>() < self.throttle_rate {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::error::ErrorKind;
    use crate::local::state::NewDatastore;

    fn app(dir: &std::path::Path, p: Persistence, store: Store) -> App {
        App::new(
            store,
            Account {
                region: "us-east-1".into(),
                account_id: "123456789012".into(),
            },
            Verifier {
                credentials: Vec::new(),
                region: "us-east-1".into(),
            },
            dir.join("s3"),
            Some(p),
        )
    }

    fn create(s: &mut Store, token: &str) -> ApiResult<()> {
        s.create_datastore(
            NewDatastore {
                client_token: token.into(),
                ..NewDatastore::default()
            },
            |id| id.to_string(),
        );
        Ok(())
    }

    #[test]
    fn reads_go_on_while_a_write_waits_for_the_disk_and_it_is_acknowledged_after() {
        use std::sync::mpsc;
        let dir = tempfile::tempdir().unwrap();
        let (p, store) = Persistence::open(dir.path()).unwrap();
        let (at_sync, in_sync) = mpsc::channel::<()>();
        let (release, released) = mpsc::channel::<()>();
        let released = Mutex::new(released);
        *p.before_sync.lock().unwrap() = Some(std::sync::Arc::new(move || {
            at_sync.send(()).unwrap();
            released.lock().unwrap().recv().unwrap();
        }));
        let app = app(dir.path(), p, store);
        let (done_tx, done) = mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let r = app.write(|s| create(s, "held"));
                done_tx.send(r.is_ok()).unwrap();
            });
            in_sync.recv().unwrap();
            // The write is applied but waits for its fsync: the store is free for readers...
            let store = app
                .store
                .try_read()
                .expect("readers do not wait for the fsync");
            assert_eq!(store.datastores().count(), 1);
            drop(store);
            // ...and the write is not acknowledged until the fsync is done.
            assert!(done.try_recv().is_err(), "acknowledged before durable");
            release.send(()).unwrap();
            assert!(done.recv().unwrap());
        });
    }

    #[test]
    fn a_write_that_cannot_be_stored_fails_with_internal_server_error() {
        let dir = tempfile::tempdir().unwrap();
        let (p, store) = Persistence::open(dir.path()).unwrap();
        p.fail_for_test();
        let app = app(dir.path(), p, store);
        let err = app.write(|s| create(s, "t")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InternalServer);
        assert_eq!(err.kind.status().as_u16(), 500);
        drop(app);
        let (_p, again) = Persistence::open(dir.path()).unwrap();
        assert_eq!(again.datastores().count(), 0);
    }
}
