//! What a write changed, as journal records; replaying records into a store; and the frame
//! reference counts that decide when a frame's bytes can go.
//!
//! The store's mutable accessors note the data stores, image sets, jobs and tag sets they hand
//! out. `take_changes` turns those notes into one record (the full new value of each, or its
//! removal), so a record replayed over the state before the write gives the state after it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Datastore, DatastoreInfo, ImageSet, ImportJob, JobOutcome, JobStatus, Store};
use crate::local::document;

/// One change in a journal record (owned, as read back).
#[derive(Debug, Deserialize)]
pub enum Change {
    Datastore(DatastoreInfo),
    ImageSet {
        datastore: String,
        set: ImageSet,
    },
    RemoveImageSet {
        datastore: String,
        id: String,
    },
    Job {
        datastore: String,
        job: ImportJob,
    },
    Tags {
        arn: String,
        tags: BTreeMap<String, String>,
    },
    RemoveTags {
        arn: String,
    },
}

/// The same shape, borrowed from the store, for writing.
#[derive(Serialize)]
enum ChangeRef<'a> {
    Datastore(&'a DatastoreInfo),
    ImageSet {
        datastore: &'a str,
        set: &'a ImageSet,
    },
    RemoveImageSet {
        datastore: &'a str,
        id: &'a str,
    },
    Job {
        datastore: &'a str,
        job: &'a ImportJob,
    },
    Tags {
        arn: &'a str,
        tags: &'a BTreeMap<String, String>,
    },
    RemoveTags {
        arn: &'a str,
    },
}

/// Notes of what was handed out mutably, and frame reference counts.
#[derive(Default)]
pub(super) struct Tracker {
    pub datastores: BTreeSet<String>,
    pub tags: BTreeSet<String>,
    /// Per image set: how many of its versions were counted, and the frames they reference.
    frame_sets: HashMap<String, (usize, HashSet<String>)>,
    /// Per frame: how many image sets reference it.
    frame_refs: HashMap<String, u32>,
}

/// The outcome of a write, ready to be made durable.
pub struct Commit {
    /// The journal record (`None` when nothing changed).
    pub record: Option<Vec<u8>>,
    /// Frames no image set references any more (already gone from memory).
    pub dropped_frames: Vec<String>,
}

fn frame_ids(doc: &Value) -> impl Iterator<Item = &str> {
    document::instances(doc).flat_map(|(_, _, inst)| {
        inst.get("ImageFrames")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("ID").and_then(Value::as_str))
    })
}

fn encode(changes: &[ChangeRef<'_>]) -> Vec<u8> {
    serde_json::to_vec(changes).expect("state serialises to JSON")
}

impl Store {
    /// Collects what changed since the last call into a journal record, and releases frames no
    /// image set references any more.
    pub fn take_changes(&mut self) -> Commit {
        let ds_ids = std::mem::take(&mut self.changes.datastores);
        let tag_arns = std::mem::take(&mut self.changes.tags);
        let mut sets: Vec<(String, String)> = Vec::new();
        let mut jobs: Vec<(String, String)> = Vec::new();
        for ds in self.datastores.values_mut() {
            let id = ds.info.id.clone();
            let touched = std::mem::take(&mut ds.touched_sets);
            for set in &touched {
                ds.index.update(set, ds.image_sets.get(set));
            }
            sets.extend(touched.into_iter().map(|s| (id.clone(), s)));
            jobs.extend(
                std::mem::take(&mut ds.touched_jobs)
                    .into_iter()
                    .map(|j| (id.clone(), j)),
            );
        }
        if ds_ids.is_empty() && tag_arns.is_empty() && sets.is_empty() && jobs.is_empty() {
            return Commit {
                record: None,
                dropped_frames: Vec::new(),
            };
        }
        let record = {
            let mut out = Vec::new();
            for id in &ds_ids {
                if let Some(ds) = self.datastores.get(id) {
                    out.push(ChangeRef::Datastore(&ds.info));
                }
            }
            for (ds, id) in &sets {
                match self.datastores.get(ds).and_then(|d| d.image_sets.get(id)) {
                    Some(set) => out.push(ChangeRef::ImageSet { datastore: ds, set }),
                    None => out.push(ChangeRef::RemoveImageSet { datastore: ds, id }),
                }
            }
            for (ds, id) in &jobs {
                if let Some(job) = self.datastores.get(ds).and_then(|d| d.jobs.get(id)) {
                    out.push(ChangeRef::Job { datastore: ds, job });
                }
            }
            for arn in &tag_arns {
                match self.tags.get(arn) {
                    Some(tags) => out.push(ChangeRef::Tags { arn, tags }),
                    None => out.push(ChangeRef::RemoveTags { arn }),
                }
            }
            encode(&out)
        };
        let dropped_frames =
            self.count_frames(sets.iter().map(|(ds, id)| (ds.as_str(), id.as_str())));
        Commit {
            record: Some(record),
            dropped_frames,
        }
    }

    /// Brings the frame reference counts up to date for these image sets (present or removed);
    /// returns the frames that lost their last reference, after removing them from memory.
    fn count_frames<'a>(&mut self, sets: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<String> {
        let mut dropped = Vec::new();
        for (ds, id) in sets {
            let t = &mut self.changes;
            match self.datastores.get(ds).and_then(|d| d.image_sets.get(id)) {
                Some(set) => {
                    let (seen, frames) = t.frame_sets.entry(id.to_string()).or_default();
                    for v in &set.versions[(*seen).min(set.versions.len())..] {
                        for f in frame_ids(&v.document) {
                            if frames.insert(f.to_string()) {
                                *t.frame_refs.entry(f.to_string()).or_default() += 1;
                            }
                        }
                    }
                    *seen = set.versions.len();
                }
                None => {
                    let Some((_, frames)) = t.frame_sets.remove(id) else {
                        continue;
                    };
                    for f in frames {
                        let Some(n) = t.frame_refs.get_mut(&f) else {
                            continue;
                        };
                        *n -= 1;
                        if *n == 0 {
                            t.frame_refs.remove(&f);
                            self.frames.remove(&f);
                            dropped.push(f);
                        }
                    }
                }
            }
        }
        dropped
    }

    /// Whether some image set references this frame.
    pub fn frame_referenced(&self, id: &str) -> bool {
        self.changes.frame_refs.contains_key(id)
    }

    /// Replays one journal change (no notes are taken: it is already durable).
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::Datastore(info) => match self.datastores.get_mut(&info.id) {
                Some(ds) => ds.info = info,
                None => {
                    self.datastores
                        .insert(info.id.clone(), Datastore::new(info));
                }
            },
            Change::ImageSet { datastore, set } => {
                self.note_pending(
                    &datastore,
                    &set.id,
                    set.pending.as_ref().map(|p| p.settles_at),
                );
                if let Some(ds) = self.datastores.get_mut(&datastore) {
                    ds.index.update(&set.id, Some(&set));
                    ds.image_sets.insert(set.id.clone(), set);
                }
            }
            Change::RemoveImageSet { datastore, id } => {
                self.forget_pending(&datastore, &id);
                if let Some(ds) = self.datastores.get_mut(&datastore) {
                    ds.index.update(&id, None);
                    ds.image_sets.remove(&id);
                }
            }
            Change::Job { datastore, job } => {
                if let Some(ds) = self.datastores.get_mut(&datastore) {
                    ds.jobs.insert(job.id.clone(), job);
                }
            }
            Change::Tags { arn, tags } => {
                self.tags.insert(arn, tags);
            }
            Change::RemoveTags { arn } => {
                self.tags.remove(&arn);
            }
        }
    }

    /// After replay: counts every image set's frame references.
    pub fn index_frames(&mut self) {
        let all: Vec<(String, String)> = self
            .datastores
            .values()
            .flat_map(|d| d.image_sets.keys().map(|s| (d.info.id.clone(), s.clone())))
            .collect();
        self.count_frames(all.iter().map(|(d, s)| (d.as_str(), s.as_str())));
    }

    /// The whole state as records of one change each (a snapshot).
    pub fn snapshot_records(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        let stores = self.datastores.values().flat_map(|ds| {
            let id = ds.info.id.as_str();
            std::iter::once(encode(&[ChangeRef::Datastore(&ds.info)]))
                .chain(
                    ds.image_sets
                        .values()
                        .map(move |set| encode(&[ChangeRef::ImageSet { datastore: id, set }])),
                )
                .chain(
                    ds.jobs
                        .values()
                        .map(move |job| encode(&[ChangeRef::Job { datastore: id, job }])),
                )
        });
        let tags = self
            .tags
            .iter()
            .map(|(arn, tags)| encode(&[ChangeRef::Tags { arn, tags }]));
        stores.chain(tags)
    }

    /// At start: jobs that were running when the previous process died did not finish.
    pub fn fail_interrupted_jobs(&mut self) -> usize {
        let open: Vec<(String, String)> = self
            .datastores
            .values()
            .flat_map(|d| {
                d.jobs
                    .values()
                    .filter(|j| matches!(j.status, JobStatus::Submitted | JobStatus::InProgress))
                    .map(|j| (d.info.id.clone(), j.id.clone()))
            })
            .collect();
        for (ds, job) in &open {
            self.finish_job(
                ds,
                job,
                JobOutcome::Failed(
                    "The import was interrupted (the local HealthImaging stopped) and did not complete"
                        .into(),
                ),
            );
        }
        open.len()
    }
}
