//! Image sets: reads (properties, versions, metadata, frames), UpdateImageSetMetadata,
//! CopyImageSet and DeleteImageSet, plus the primitives the import job uses to create image sets
//! and add versions. With no write delay, writes complete at once (responses still report the
//! in-flight LOCKED/... status AWS returns); with one, the image set stays LOCKED until the write
//! settles (`settle`).

use serde_json::Value;

use super::settle::failure_message;
use super::{
    new_id, now, AccessTime, Datastore, ImageSet, ImageSetState, ImageSetVersion, PendingWrite,
    StorageTier, Store, TextField, WorkflowStatus,
};
use crate::local::document;
use crate::local::error::{ApiError, ApiResult};
use crate::local::updates;

#[derive(Debug, Clone)]
pub struct FrameBlob {
    /// Shared, not copied, by every response that serves it.
    pub bytes: bytes::Bytes,
}

pub enum MetadataUpdate {
    Dicom {
        removable: Option<Value>,
        updatable: Option<Value>,
    },
    Revert(String),
}

pub struct UpdateResult {
    pub image_set_id: String,
    pub latest_version_id: u64,
    pub created_at: f64,
    pub updated_at: f64,
}

pub struct CopyRequest {
    pub source_latest_version: String,
    pub copiable: Option<Value>,
    pub destination: Option<(String, String)>,
    pub force: bool,
    pub promote_to_primary: bool,
}

pub struct CopyResult {
    pub source: UpdateResult,
    pub destination: UpdateResult,
}

fn missing(id: &str) -> ApiError {
    ApiError::not_found(format!("Image set {id} does not exist"))
}

impl Datastore {
    pub fn image_set(&self, id: &str) -> ApiResult<&ImageSet> {
        self.image_sets.get(id).ok_or_else(|| missing(id))
    }

    /// An image set for writing; it is journaled with the write.
    fn image_set_mut(&mut self, id: &str) -> ApiResult<&mut ImageSet> {
        let set = self.image_sets.get_mut(id).ok_or_else(|| missing(id))?;
        self.touched_sets.insert(id.to_string());
        Ok(set)
    }

    /// Creates an image set whose first version is `document` (IDs are filled in).
    pub fn create_image_set(
        &mut self,
        mut document: Value,
        is_primary: bool,
        workflow: WorkflowStatus,
    ) -> String {
        let id = new_id();
        document::set_ids(&mut document, &self.info.id, &id);
        let t = now();
        self.image_sets.insert(
            id.clone(),
            ImageSet {
                id: id.clone(),
                created_at: t,
                last_accessed_at: AccessTime::default(),
                state: ImageSetState::Active,
                is_primary,
                storage_tier: StorageTier::FrequentAccess,
                versions: vec![ImageSetVersion {
                    version_id: 1,
                    created_at: t,
                    updated_at: t,
                    workflow_status: workflow,
                    message: None,
                    forced: false,
                    document,
                }],
                pending: None,
            },
        );
        self.touched_sets.insert(id.clone());
        self.info.updated_at = t;
        id
    }

    /// Adds a version to an image set and returns its summary.
    pub fn push_version(
        &mut self,
        id: &str,
        document: Value,
        workflow: WorkflowStatus,
        forced: bool,
    ) -> ApiResult<UpdateResult> {
        let set = self.image_set_mut(id)?;
        let t = now();
        let version_id = set.latest_version_id() + 1;
        set.versions.push(ImageSetVersion {
            version_id,
            created_at: set.created_at,
            updated_at: t,
            workflow_status: workflow,
            message: None,
            forced,
            document,
        });
        Ok(UpdateResult {
            image_set_id: id.to_string(),
            latest_version_id: version_id,
            created_at: set.created_at,
            updated_at: t,
        })
    }

    /// Image sets that may hold `value` in `field`, in ID order: the index's candidates plus
    /// those written since the last commit. A superset: callers check each.
    pub fn image_sets_maybe_with(&self, field: TextField, value: &str) -> Vec<&ImageSet> {
        let mut ids = self.index.text_equal(field, value);
        ids.extend(self.uncommitted_image_sets());
        let mut out: Vec<&ImageSet> = ids
            .into_iter()
            .filter_map(|id| self.image_sets.get(id))
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    fn check_latest(&self, id: &str, latest: &str) -> ApiResult<&ImageSet> {
        let set = self.image_set(id)?;
        set.check_unlocked()?;
        if latest != set.latest_version_id().to_string() {
            return Err(ApiError::conflict(format!(
                "Image set {id} is at version {}, not {latest}; read it again and retry with the current latestVersionId",
                set.latest_version_id()
            )));
        }
        Ok(set)
    }
}

fn summary(set: &ImageSet) -> UpdateResult {
    let v = set.latest();
    UpdateResult {
        image_set_id: set.id.clone(),
        latest_version_id: v.version_id,
        created_at: set.created_at,
        updated_at: v.updated_at,
    }
}

impl Store {
    pub fn image_set(&self, datastore_id: &str, id: &str) -> ApiResult<&ImageSet> {
        self.live_datastore(datastore_id)?.image_set(id)
    }

    /// Metadata of a version; marks the image set accessed.
    pub fn image_set_metadata(
        &self,
        datastore_id: &str,
        id: &str,
        version: Option<&str>,
    ) -> ApiResult<&Value> {
        let set = self.image_set(datastore_id, id)?;
        set.last_accessed_at.touch();
        let v = set.version(version).ok_or_else(|| {
            ApiError::not_found(format!(
                "Version {} of image set {id} does not exist",
                version.unwrap_or("")
            ))
        })?;
        Ok(&v.document)
    }

    /// Frame bytes and their stored transfer syntax, for a frame of the latest version.
    pub fn image_frame(
        &self,
        datastore_id: &str,
        id: &str,
        frame_id: &str,
    ) -> ApiResult<(FrameBlob, String)> {
        let set = self.image_set(datastore_id, id)?;
        set.last_accessed_at.touch();
        let ts = document::find_frame(&set.latest().document, frame_id)
            .map(str::to_owned)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "Image frame {frame_id} does not exist in image set {id}"
                ))
            })?;
        let bytes = self
            .frames
            .get(frame_id)
            .map_err(|e| {
                tracing::error!("cannot read frame {frame_id}: {e}");
                ApiError::internal(format!("Frame {frame_id} could not be read from storage"))
            })?
            .ok_or_else(|| {
                ApiError::internal(format!("Frame {frame_id} is missing from storage"))
            })?;
        Ok((FrameBlob { bytes }, ts))
    }

    pub fn update_image_set(
        &mut self,
        datastore_id: &str,
        id: &str,
        latest: &str,
        force: bool,
        include_study: bool,
        update: MetadataUpdate,
    ) -> ApiResult<UpdateResult> {
        let ds = self.live_datastore_mut(datastore_id)?;
        let set = ds.check_latest(id, latest)?;
        let (next, workflow) = match &update {
            MetadataUpdate::Revert(to) => {
                if include_study {
                    return Err(ApiError::validation(
                        "includeStudyImageSets cannot be combined with revertToVersionId",
                    ));
                }
                let v = set.version(Some(to)).ok_or_else(|| {
                    ApiError::validation(format!(
                        "revertToVersionId {to} is not a version of image set {id}"
                    ))
                })?;
                (v.document.clone(), WorkflowStatus::Updated)
            }
            MetadataUpdate::Dicom {
                removable,
                updatable,
            } => (
                updates::apply_dicom_updates(
                    &set.latest().document,
                    removable.as_ref(),
                    updatable.as_ref(),
                    force,
                )?,
                WorkflowStatus::Updated,
            ),
        };
        // Same-study primary siblings get the same change (validated before anything is written).
        let mut siblings = Vec::new();
        if include_study {
            if let MetadataUpdate::Dicom {
                removable,
                updatable,
            } = &update
            {
                let study_uid =
                    document::text(document::study(&set.latest().document), "StudyInstanceUID")
                        .map(str::to_owned);
                let others: Vec<&ImageSet> = match &study_uid {
                    Some(uid) => ds.image_sets_maybe_with(TextField::StudyInstanceUid, uid),
                    None => ds.image_sets.values().collect(),
                };
                for other in others {
                    if other.id != id
                        && other.is_primary
                        && document::text(
                            document::study(&other.latest().document),
                            "StudyInstanceUID",
                        )
                        .map(str::to_owned)
                            == study_uid
                    {
                        other.check_unlocked()?;
                        let doc = updates::apply_dicom_updates(
                            &other.latest().document,
                            removable.as_ref(),
                            updatable.as_ref(),
                            force,
                        )?;
                        siblings.push((other.id.clone(), doc));
                    }
                }
            }
        }
        let timing = self.write_timing;
        let failed = timing.draw_failure().then(|| failure_message("update"));
        let ds = self.live_datastore_mut(datastore_id)?;
        let mut locks = vec![(id.to_string(), WorkflowStatus::Updating)];
        let mut result = None;
        for (sid, doc) in std::iter::once((id.to_string(), next)).chain(siblings) {
            let r = match &failed {
                // The new version records the failure and keeps the previous metadata.
                Some(msg) => {
                    let old = ds.image_set(&sid)?.latest().document.clone();
                    let r = ds.push_version(&sid, old, WorkflowStatus::UpdateFailed, force)?;
                    ds.image_set_mut(&sid)?
                        .versions
                        .last_mut()
                        .expect("pushed")
                        .message = Some(msg.clone());
                    r
                }
                None => ds.push_version(&sid, doc, workflow, force)?,
            };
            if sid != id {
                locks.push((sid, WorkflowStatus::UpdatingForStudyConsistency));
            }
            result.get_or_insert(r);
        }
        ds.info.updated_at = now();
        for (sid, status) in locks {
            if let Some(p) = timing.pending(status) {
                self.lock_set(datastore_id, &sid, p)?;
            }
        }
        Ok(result.expect("the image set itself was updated"))
    }

    /// Marks an image set LOCKED by a write in flight.
    fn lock_set(&mut self, datastore_id: &str, id: &str, p: PendingWrite) -> ApiResult<()> {
        let ds = self.live_datastore_mut(datastore_id)?;
        let at = p.settles_at;
        ds.image_set_mut(id)?.pending = Some(p);
        self.note_pending(datastore_id, id, Some(at));
        Ok(())
    }

    pub fn copy_image_set(
        &mut self,
        datastore_id: &str,
        source_id: &str,
        req: CopyRequest,
    ) -> ApiResult<CopyResult> {
        let timing = self.write_timing;
        let failed = timing.draw_failure().then(|| failure_message("copy"));
        let ds = self.live_datastore_mut(datastore_id)?;
        let source = ds.check_latest(source_id, &req.source_latest_version)?;
        let selected = updates::select_for_copy(&source.latest().document, req.copiable.as_ref())?;
        let source_summary = summary(source);
        let source_primary = source.is_primary;
        let req_created = req.destination.is_none();
        let destination = match req.destination {
            Some((dest_id, dest_latest)) => {
                if dest_id == source_id {
                    return Err(ApiError::validation(
                        "Source and destination image sets must differ",
                    ));
                }
                let dest = ds.check_latest(&dest_id, &dest_latest)?;
                let merged = updates::merge_into(&dest.latest().document, &selected, req.force)?;
                let r = match &failed {
                    // The new version records the failure and keeps the previous metadata.
                    Some(msg) => {
                        let old = dest.latest().document.clone();
                        let r =
                            ds.push_version(&dest_id, old, WorkflowStatus::CopyFailed, req.force)?;
                        ds.image_set_mut(&dest_id)?
                            .versions
                            .last_mut()
                            .expect("pushed")
                            .message = Some(msg.clone());
                        r
                    }
                    None => ds.push_version(&dest_id, merged, WorkflowStatus::Copied, req.force)?,
                };
                if req.promote_to_primary && failed.is_none() {
                    ds.image_set_mut(&dest_id)?.is_primary = true;
                }
                r
            }
            None => {
                let primary = req.promote_to_primary;
                if primary && !source_primary {
                    // Promotion needs the series to be free in the primary hierarchy.
                    let series: Vec<String> = document::series_map(&selected)
                        .map(|m| m.keys().cloned().collect())
                        .unwrap_or_default();
                    let taken = series.iter().any(|u| {
                        ds.image_sets_maybe_with(TextField::SeriesInstanceUid, u)
                            .into_iter()
                            .any(|s| {
                                s.is_primary
                                    && document::series_map(&s.latest().document)
                                        .is_some_and(|m| m.contains_key(u))
                            })
                    });
                    if taken {
                        return Err(ApiError::conflict(
                            "A primary image set already holds this series; copy into it with destinationImageSet and promoteToPrimary",
                        ));
                    }
                }
                let status = match failed {
                    Some(_) => WorkflowStatus::CopyFailed,
                    None => WorkflowStatus::Copied,
                };
                let new_id = ds.create_image_set(selected, primary && failed.is_none(), status);
                summary(ds.image_set(&new_id)?)
            }
        };
        ds.info.updated_at = now();
        let dest_id = destination.image_set_id.clone();
        let created = req_created;
        // A copy into a new image set that fails never finishes creating it.
        let dest_lock = match timing.pending(WorkflowStatus::Copying) {
            Some(p) => Some(PendingWrite {
                removes: created && failed.is_some(),
                ..p
            }),
            None if created && failed.is_some() => Some(PendingWrite {
                settles_at: now(),
                in_flight: WorkflowStatus::Copying,
                removes: true,
                completes_as: None,
            }),
            None => None,
        };
        if let Some(p) = dest_lock {
            self.lock_set(datastore_id, &dest_id, p)?;
        }
        if let Some(p) = timing.pending(WorkflowStatus::CopyingWithReadOnlyAccess) {
            let outcome = match failed {
                Some(msg) => (WorkflowStatus::CopyFailed, Some(msg)),
                None => (WorkflowStatus::Copied, None),
            };
            self.lock_set(
                datastore_id,
                source_id,
                PendingWrite {
                    completes_as: Some(outcome),
                    ..p
                },
            )?;
        }
        Ok(CopyResult {
            source: source_summary,
            destination,
        })
    }

    /// Deletes an image set (and its tags); its frames go with it unless another image set
    /// shares them.
    pub fn delete_image_set(&mut self, datastore_id: &str, id: &str) -> ApiResult<()> {
        let timing = self.write_timing;
        let ds = self.live_datastore_mut(datastore_id)?;
        ds.image_set(id)?.check_unlocked()?;
        if let Some(p) = timing.pending(WorkflowStatus::Deleting) {
            ds.info.updated_at = now();
            return self.lock_set(datastore_id, id, PendingWrite { removes: true, ..p });
        }
        ds.image_sets.remove(id).ok_or_else(|| missing(id))?;
        ds.touched_sets.insert(id.to_string());
        ds.info.updated_at = now();
        self.drop_tags(&format!("datastore/{datastore_id}/imageset/{id}"));
        Ok(())
    }
}
