//! Asynchronous writes, as the service does them: UpdateImageSetMetadata, CopyImageSet and
//! DeleteImageSet leave the image set LOCKED with the in-flight workflow status until a deadline
//! stored in the image set itself (so a pending completion is journaled with the write and
//! survives a restart). Completion is lazy: `App` settles whatever is due before the next read or
//! write, through the journal like any other change. No timer task, nothing to lose in a crash.

use serde::{Deserialize, Serialize};

use super::{now, ImageSet, ImageSetState, Store, WorkflowStatus};
use crate::local::error::{ApiError, ApiResult};

/// A write the image set is still LOCKED by.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingWrite {
    /// Epoch seconds at which the write completes.
    pub settles_at: f64,
    /// The workflow status shown while LOCKED (`UPDATING`, `COPYING`, ...).
    pub in_flight: WorkflowStatus,
    /// The image set goes away on completion (a delete, or a failed copy into a new image set).
    #[serde(default)]
    pub removes: bool,
    /// Status (and message) the latest version takes on completion, when the write added no
    /// version of its own (the source of a copy).
    #[serde(default)]
    pub completes_as: Option<(WorkflowStatus, Option<String>)>,
}

/// How the configured delay and fault share shape the next write.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteTiming {
    /// Seconds an update, copy or delete stays in flight (0 = completes at once).
    pub delay: f64,
    /// Share (0.0..=1.0) of updates and copies that end UPDATE_FAILED / COPY_FAILED.
    pub fail_rate: f64,
}

impl WriteTiming {
    /// Whether this write fails (drawn once per request).
    pub fn draw_failure(&self) -> bool {
        self.fail_rate > 0.0 && rand::random::<f64>() < self.fail_rate
    }

    /// The pending marker for a write that starts now, or `None` when it completes at once.
    pub fn pending(&self, in_flight: WorkflowStatus) -> Option<PendingWrite> {
        (self.delay > 0.0).then(|| PendingWrite {
            settles_at: now() + self.delay,
            in_flight,
            removes: false,
            completes_as: None,
        })
    }
}

/// The message a failed update or copy carries (the fault was injected).
pub fn failure_message(what: &str) -> String {
    format!("The {what} could not be completed (fault injected by the local HealthImaging's write fail rate); the image set keeps its previous metadata")
}

impl ImageSet {
    /// The state now: LOCKED while a write is in flight.
    pub fn current_state(&self) -> ImageSetState {
        if self.pending.is_some() {
            ImageSetState::Locked
        } else {
            self.state
        }
    }

    /// The workflow status shown for a version: the in-flight one for the latest version of a
    /// locked image set.
    pub fn workflow_of(&self, version_id: u64) -> WorkflowStatus {
        match &self.pending {
            Some(p) if version_id == self.latest_version_id() => p.in_flight,
            _ => self
                .version(Some(&version_id.to_string()))
                .map_or(WorkflowStatus::Created, |v| v.workflow_status),
        }
    }

    /// Refuses a write while another one is in flight, as the service does.
    pub fn check_unlocked(&self) -> ApiResult<()> {
        match &self.pending {
            Some(p) => Err(ApiError::conflict(format!(
                "Image set {} is LOCKED ({}); retry once it is ACTIVE",
                self.id, p.in_flight
            ))),
            None => Ok(()),
        }
    }
}

fn millis(t: f64) -> u64 {
    (t * 1000.0).max(0.0) as u64
}

impl Store {
    /// Records that an image set holds a pending write (index of what `settle_due` visits).
    pub(super) fn note_pending(&mut self, datastore: &str, id: &str, settles_at: Option<f64>) {
        let key = (datastore.to_string(), id.to_string());
        match settles_at {
            Some(t) => {
                self.pending.insert(key, millis(t));
            }
            None => {
                self.pending.remove(&key);
            }
        }
    }

    pub(super) fn forget_pending(&mut self, datastore: &str, id: &str) {
        self.pending
            .remove(&(datastore.to_string(), id.to_string()));
    }

    /// Whether some pending write has reached its completion time.
    pub fn writes_due(&self) -> bool {
        let t = millis(now());
        self.pending.values().any(|&at| at <= t)
    }

    /// Completes every pending write whose time has come (journaled by the enclosing write).
    pub fn settle_due(&mut self) {
        let t = millis(now());
        let due: Vec<(String, String)> = self
            .pending
            .iter()
            .filter(|(_, &at)| at <= t)
            .map(|(k, _)| k.clone())
            .collect();
        for (ds_id, id) in due {
            self.pending.remove(&(ds_id.clone(), id.clone()));
            let Some(ds) = self.datastores.get_mut(&ds_id) else {
                continue;
            };
            let Some(set) = ds.image_sets.get_mut(&id) else {
                continue;
            };
            let Some(p) = set.pending.take() else {
                continue;
            };
            ds.touched_sets.insert(id.clone());
            if p.removes {
                ds.image_sets.remove(&id);
                self.drop_tags(&format!("datastore/{ds_id}/imageset/{id}"));
                continue;
            }
            if let Some((status, message)) = p.completes_as {
                let v = set.versions.last_mut().expect("an image set has a version");
                v.workflow_status = status;
                v.message = message;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::error::ErrorKind;
    use crate::local::state::{Change, NewDatastore};
    use serde_json::json;

    fn store_with_image_set(delay: f64) -> (Store, String, String) {
        let mut store = Store::new(0.0);
        store.write_timing = WriteTiming {
            delay,
            fail_rate: 0.0,
        };
        let ds = store
            .create_datastore(
                NewDatastore {
                    client_token: "t".into(),
                    ..NewDatastore::default()
                },
                |id| id.to_string(),
            )
            .id()
            .to_string();
        let doc = json!({"SchemaVersion": "1.1", "Patient": {"DICOM": {}},
                         "Study": {"DICOM": {}, "Series": {}}});
        let id = store.live_datastore_mut(&ds).unwrap().create_image_set(
            doc,
            true,
            WorkflowStatus::Imported,
        );
        store.take_changes();
        (store, ds, id)
    }

    /// The journal record of the last write, replayed into a fresh store.
    fn replayed(store: &mut Store, into: &mut Store) {
        let record = store.take_changes().record.expect("a record");
        for c in serde_json::from_slice::<Vec<Change>>(&record).unwrap() {
            into.apply(c);
        }
    }

    #[test]
    fn a_delayed_delete_locks_until_it_settles_and_is_journaled_with_its_deadline() {
        let (mut store, ds, id) = store_with_image_set(600.0);
        store.delete_image_set(&ds, &id).unwrap();
        let set = store.image_set(&ds, &id).unwrap();
        assert_eq!(set.current_state(), ImageSetState::Locked);
        assert_eq!(
            set.workflow_of(set.latest_version_id()),
            WorkflowStatus::Deleting
        );
        let again = store.delete_image_set(&ds, &id).unwrap_err();
        assert_eq!(again.kind, ErrorKind::Conflict);
        assert!(!store.writes_due());
        // The pending delete travels in the journal record (data store and image set), deadline
        // included.
        let mut copy = Store::new(0.0);
        replayed(&mut store, &mut copy);
        let kept = copy.image_set(&ds, &id).unwrap();
        assert_eq!(kept.current_state(), ImageSetState::Locked);
        // Once its time has passed, it settles (in the replayed store too).
        for s in [&mut store, &mut copy] {
            let set = s.datastores.get_mut(&ds).unwrap().image_sets.get_mut(&id);
            set.unwrap().pending.as_mut().unwrap().settles_at = now() - 1.0;
            s.pending.insert((ds.clone(), id.clone()), 0);
            assert!(s.writes_due());
            s.settle_due();
            assert_eq!(
                s.image_set(&ds, &id).unwrap_err().kind,
                ErrorKind::ResourceNotFound
            );
            assert!(!s.writes_due());
        }
    }

    #[test]
    fn without_a_delay_a_delete_completes_at_once() {
        let (mut store, ds, id) = store_with_image_set(0.0);
        store.delete_image_set(&ds, &id).unwrap();
        assert_eq!(
            store.image_set(&ds, &id).unwrap_err().kind,
            ErrorKind::ResourceNotFound
        );
    }
}
