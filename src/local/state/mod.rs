//! The local HealthImaging's state and rules: data stores, import jobs, tags, image sets with their
//! version history, and frame blobs. Nothing here knows about HTTP or JSON wire names; the
//! protocol layer shapes requests and responses. Every rule violation is an `ApiError`.
//!
//! Mutable access goes only through accessors that remember what they handed out (`changes`),
//! so every write can be turned into a journal record without the caller listing what changed.

mod changes;
mod datastores;
mod frames;
mod image_sets;
mod index;
mod jobs;
mod settle;
mod status;
mod tags;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use changes::{Change, Commit};
pub use datastores::NewDatastore;
pub use frames::CACHE_BYTES;
pub use image_sets::{CopyRequest, CopyResult, FrameBlob, MetadataUpdate, UpdateResult};
pub use index::{study_date_key, study_date_time, SearchIndex, TextField};
pub use jobs::{JobOutcome, NewJob};
pub use settle::{PendingWrite, WriteTiming};
pub use status::{DatastoreStatus, ImageSetState, JobStatus, StorageTier, WorkflowStatus};

/// Seconds since the epoch, millisecond precision (AWS timestamps travel as epoch seconds).
pub fn now() -> f64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_millis() as f64) / 1000.0
}

/// A new 32-character `[0-9a-z]` identifier, the shape of every HealthImaging ID.
pub fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

/// Identity of the emulated account and region, used for ARNs.
#[derive(Debug, Clone)]
pub struct Account {
    pub region: String,
    pub account_id: String,
}

impl Account {
    pub fn datastore_arn(&self, datastore_id: &str) -> String {
        format!(
            "arn:aws:medical-imaging:{}:{}:datastore/{datastore_id}",
            self.region, self.account_id
        )
    }
    pub fn image_set_arn(&self, datastore_id: &str, image_set_id: &str) -> String {
        format!(
            "{}/imageset/{image_set_id}",
            self.datastore_arn(datastore_id)
        )
    }
}

/// A data store's own properties (what a journal record of the data store carries).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatastoreInfo {
    pub id: String,
    pub name: String,
    /// The status as last written; `Datastore::status` applies the pending transition.
    pub status: DatastoreStatus,
    pub kms_key_arn: Option<String>,
    pub lambda_authorizer_arn: Option<String>,
    pub lossless_storage_format: String,
    pub created_at: f64,
    pub updated_at: f64,
    pub client_token: String,
    /// When a CREATING / DELETING data store settles into ACTIVE / DELETED.
    pub settles_at: f64,
}

#[derive(Debug)]
pub struct Datastore {
    pub info: DatastoreInfo,
    image_sets: BTreeMap<String, ImageSet>,
    jobs: BTreeMap<String, ImportJob>,
    /// Image sets and jobs handed out mutably since the last commit.
    touched_sets: BTreeSet<String>,
    touched_jobs: BTreeSet<String>,
    /// Searchable attributes of the image sets as of the last commit.
    index: SearchIndex,
}

impl Datastore {
    fn new(info: DatastoreInfo) -> Self {
        Self {
            info,
            image_sets: BTreeMap::new(),
            jobs: BTreeMap::new(),
            touched_sets: BTreeSet::new(),
            touched_jobs: BTreeSet::new(),
            index: SearchIndex::default(),
        }
    }

    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// The status now: CREATING / DELETING become ACTIVE / DELETED once their time has passed.
    pub fn status(&self) -> DatastoreStatus {
        self.settled().0
    }

    pub fn updated_at(&self) -> f64 {
        self.settled().1
    }

    fn settled(&self) -> (DatastoreStatus, f64) {
        let i = &self.info;
        let next = match i.status {
            DatastoreStatus::Creating => DatastoreStatus::Active,
            DatastoreStatus::Deleting => DatastoreStatus::Deleted,
            s => return (s, i.updated_at),
        };
        if now() >= i.settles_at {
            (next, i.settles_at.max(i.updated_at))
        } else {
            (i.status, i.updated_at)
        }
    }

    /// Writes the settled status down (before a write that depends on it).
    fn settle(&mut self) {
        let (status, updated_at) = self.settled();
        self.info.status = status;
        self.info.updated_at = updated_at;
    }

    pub fn is_live(&self) -> bool {
        !matches!(
            self.status(),
            DatastoreStatus::Deleted | DatastoreStatus::Deleting
        )
    }

    pub fn image_sets(&self) -> &BTreeMap<String, ImageSet> {
        &self.image_sets
    }

    /// The search index, current for every image set except those written since the last
    /// commit (`uncommitted_image_sets`).
    pub fn search_index(&self) -> &SearchIndex {
        &self.index
    }

    /// Image sets changed (or removed) by a write that has not committed yet.
    pub fn uncommitted_image_sets(&self) -> impl Iterator<Item = &str> {
        self.touched_sets.iter().map(String::as_str)
    }

    pub fn jobs(&self) -> &BTreeMap<String, ImportJob> {
        &self.jobs
    }
}

/// When an image set was last read; updated by reads (under a shared lock), so atomic. Not
/// journaled: it is saved with the next snapshot.
#[derive(Debug, Default)]
pub struct AccessTime(AtomicU64);

impl AccessTime {
    pub fn get(&self) -> Option<f64> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            bits => Some(f64::from_bits(bits)),
        }
    }
    pub fn touch(&self) {
        self.0.store(now().to_bits(), Ordering::Relaxed);
    }
}

impl Clone for AccessTime {
    fn clone(&self) -> Self {
        Self(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }
}

impl Serialize for AccessTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl<'de> Deserialize<'de> for AccessTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = Option::<f64>::deserialize(d)?;
        Ok(Self(AtomicU64::new(t.map_or(0, f64::to_bits))))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageSet {
    pub id: String,
    pub created_at: f64,
    #[serde(default)]
    pub last_accessed_at: AccessTime,
    pub state: ImageSetState,
    pub is_primary: bool,
    pub storage_tier: StorageTier,
    /// Version history; `versions[n]` has version id `n + 1`.
    pub versions: Vec<ImageSetVersion>,
    /// An update, copy or delete still in flight (the image set is LOCKED until it settles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingWrite>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageSetVersion {
    pub version_id: u64,
    pub created_at: f64,
    pub updated_at: f64,
    pub workflow_status: WorkflowStatus,
    pub message: Option<String>,
    pub forced: bool,
    /// The full metadata document of this version (§4 of the reference), uncompressed.
    pub document: Value,
}

impl ImageSet {
    pub fn latest(&self) -> &ImageSetVersion {
        self.versions
            .last()
            .expect("an image set always has a version")
    }
    pub fn latest_version_id(&self) -> u64 {
        self.latest().version_id
    }
    /// A version by its external id (`None` = latest).
    pub fn version(&self, version_id: Option<&str>) -> Option<&ImageSetVersion> {
        match version_id {
            None => Some(self.latest()),
            Some(v) => {
                let n: u64 = v.parse().ok()?;
                self.versions.get(usize::try_from(n).ok()?.checked_sub(1)?)
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportJob {
    pub id: String,
    pub name: String,
    pub status: JobStatus,
    pub datastore_id: String,
    pub data_access_role_arn: String,
    pub input_s3_uri: String,
    pub output_s3_uri: String,
    pub input_owner_account_id: Option<String>,
    pub import_configuration: Option<Value>,
    pub client_token: String,
    pub submitted_at: f64,
    pub ended_at: Option<f64>,
    pub message: Option<String>,
}

#[derive(Default)]
pub struct Store {
    datastores: BTreeMap<String, Datastore>,
    /// Tags by resource ARN (data store or image set).
    tags: BTreeMap<String, BTreeMap<String, String>>,
    /// Frame bytes by frame ID, shared by every version that references them.
    frames: frames::Frames,
    /// Seconds a CREATING / DELETING data store takes to settle.
    pub transition_delay: f64,
    /// Delay and fault share of UpdateImageSetMetadata / CopyImageSet / DeleteImageSet.
    pub write_timing: WriteTiming,
    /// Image sets with a pending write, and when it settles (epoch ms); rebuilt on replay.
    pending: BTreeMap<(String, String), u64>,
    changes: changes::Tracker,
}

impl Store {
    pub fn new(transition_delay: f64) -> Self {
        Self {
            transition_delay,
            ..Self::default()
        }
    }

    /// Adds frame bytes (import), already durable when there is a data folder; they are kept
    /// while an image set references them.
    pub fn insert_frame(&mut self, id: String, bytes: Bytes) {
        self.frames.insert(id, bytes);
    }

    /// Frames are durable in `dir` and read from there when asked for, with a cache of
    /// `cache_bytes`.
    pub fn keep_frames_in(&mut self, dir: std::path::PathBuf, cache_bytes: usize) {
        self.frames.keep_in(dir, cache_bytes);
    }

    /// How many frames, and how many bytes of them, are held in memory.
    pub fn frames_in_memory(&self) -> (usize, usize) {
        self.frames.in_memory()
    }

    pub fn datastores(&self) -> impl Iterator<Item = &Datastore> {
        self.datastores.values()
    }

    /// A data store by id for writing; its properties are journaled with the write.
    fn datastore_mut(&mut self, id: &str) -> Option<&mut Datastore> {
        let ds = self.datastores.get_mut(id)?;
        ds.settle();
        self.changes.datastores.insert(id.to_string());
        Some(ds)
    }

    /// Tags of a resource for writing; they are journaled with the write.
    fn tags_mut(&mut self, arn: &str) -> &mut BTreeMap<String, String> {
        self.changes.tags.insert(arn.to_string());
        self.tags.entry(arn.to_string()).or_default()
    }
}
