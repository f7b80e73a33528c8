//! The local HealthImaging's state and rules: data stores, import jobs, tags, image sets with their
//! version history, and frame blobs. Nothing here knows about HTTP or JSON wire names; the
//! protocol layer shapes requests and responses. Every rule violation is an `ApiError`.

mod datastores;
mod image_sets;
mod jobs;
mod tags;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use datastores::NewDatastore;
pub use image_sets::{CopyRequest, CopyResult, FrameBlob, MetadataUpdate, UpdateResult};
pub use jobs::{JobOutcome, NewJob};

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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Datastore {
    pub id: String,
    pub name: String,
    pub status: String,
    pub kms_key_arn: Option<String>,
    pub lambda_authorizer_arn: Option<String>,
    pub lossless_storage_format: String,
    pub created_at: f64,
    pub updated_at: f64,
    pub client_token: String,
    /// When a CREATING / DELETING data store settles into ACTIVE / DELETED.
    pub settles_at: f64,
    pub image_sets: BTreeMap<String, ImageSet>,
    pub jobs: BTreeMap<String, ImportJob>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageSet {
    pub id: String,
    pub created_at: f64,
    pub last_accessed_at: Option<f64>,
    pub state: String,
    pub is_primary: bool,
    pub storage_tier: String,
    /// Version history; `versions[n]` has version id `n + 1`.
    pub versions: Vec<ImageSetVersion>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageSetVersion {
    pub version_id: u64,
    pub created_at: f64,
    pub updated_at: f64,
    pub workflow_status: String,
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
    pub status: String,
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

#[derive(Default, Serialize, Deserialize)]
pub struct Store {
    pub datastores: BTreeMap<String, Datastore>,
    /// Tags by resource ARN (data store or image set).
    pub tags: BTreeMap<String, BTreeMap<String, String>>,
    /// Frame bytes by frame ID, shared by every version that references them.
    #[serde(skip)]
    pub frames: HashMap<String, FrameBlob>,
    /// Seconds a CREATING / DELETING data store takes to settle.
    #[serde(skip)]
    pub transition_delay: f64,
}

impl Store {
    pub fn new(transition_delay: f64) -> Self {
        Self {
            transition_delay,
            ..Self::default()
        }
    }

    pub fn insert_frame(&mut self, id: String, bytes: Arc<Vec<u8>>) {
        self.frames.insert(id, FrameBlob { bytes });
    }
}
