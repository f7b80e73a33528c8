//! Finding DICOM studies, series and instances in a data store's image sets for DICOMweb:
//! primary image sets only (as the service's DICOMweb APIs see them), or the one image set an
//! `imageSetId` names. Candidates come from the search index, never from a scan of the store
//! when a UID narrows the search.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::local::document::{self, Object};
use crate::local::error::{ApiError, ApiResult};
use crate::local::state::{Datastore, ImageSet, ImageSetState, TextField};

/// The image sets DICOMweb sees: primary (or any, for an explicit image set) and not deleted.
fn visible(set: &ImageSet) -> bool {
    set.is_primary && set.state != ImageSetState::Deleted
}

/// Primary image sets that hold `field` = `value` (checked against each document).
pub fn primary_with<'a>(ds: &'a Datastore, field: TextField, value: &str) -> Vec<&'a ImageSet> {
    ds.image_sets_maybe_with(field, value)
        .into_iter()
        .filter(|s| visible(s))
        .collect()
}

/// Every primary image set.
pub fn all_primary(ds: &Datastore) -> Vec<&ImageSet> {
    let mut ids: BTreeSet<&str> = ds.search_index().primary(true).into_iter().collect();
    ids.extend(ds.uncommitted_image_sets());
    ids.into_iter()
        .filter_map(|id| ds.image_sets().get(id))
        .filter(|s| visible(s))
        .collect()
}

fn study_uid(set: &ImageSet) -> Option<&str> {
    document::text(document::study(&set.latest().document), "StudyInstanceUID")
}

/// One study as seen through its primary image sets.
pub struct StudyView<'a> {
    pub uid: String,
    /// The image sets holding its series, most recently updated first.
    pub sets: Vec<&'a ImageSet>,
}

impl<'a> StudyView<'a> {
    fn newest(&self) -> &'a Value {
        &self.sets[0].latest().document
    }
    pub fn patient(&self) -> Option<&'a Object> {
        document::patient(self.newest())
    }
    pub fn study(&self) -> Option<&'a Object> {
        document::study(self.newest())
    }
    pub fn updated_at(&self) -> f64 {
        self.sets[0].latest().updated_at
    }
    /// Every series of the study (UID → series entry), the newest image set's copy winning.
    pub fn series(&self) -> BTreeMap<&'a str, &'a Object> {
        let mut out = BTreeMap::new();
        for set in self.sets.iter().rev() {
            for (uid, s) in document::series_map(&set.latest().document)
                .into_iter()
                .flatten()
            {
                if let Some(o) = s.as_object() {
                    out.insert(uid.as_str(), o);
                }
            }
        }
        out
    }
    /// The `DICOMVRs` of any instance (study-level private attributes are recorded there).
    pub fn vrs(&self) -> Option<&'a Map<String, Value>> {
        document::instances(self.newest())
            .next()
            .and_then(|(_, _, i)| i.get("DICOMVRs"))
            .and_then(Value::as_object)
    }
}

/// The studies of a set of image sets, grouped by StudyInstanceUID.
pub fn studies<'a>(sets: Vec<&'a ImageSet>) -> Vec<StudyView<'a>> {
    let mut by_uid: BTreeMap<String, Vec<&'a ImageSet>> = BTreeMap::new();
    for s in sets {
        if let Some(uid) = study_uid(s) {
            by_uid.entry(uid.to_string()).or_default().push(s);
        }
    }
    by_uid
        .into_iter()
        .map(|(uid, mut sets)| {
            sets.sort_by(|a, b| {
                b.latest()
                    .updated_at
                    .total_cmp(&a.latest().updated_at)
                    .then_with(|| a.id.cmp(&b.id))
            });
            StudyView { uid, sets }
        })
        .collect()
}

/// One study by UID (primary image sets only); 404 when there is none.
pub fn study<'a>(ds: &'a Datastore, uid: &str) -> ApiResult<StudyView<'a>> {
    studies(primary_with(ds, TextField::StudyInstanceUid, uid))
        .into_iter()
        .find(|s| s.uid == uid)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Study {uid} does not exist in data store {}",
                ds.id()
            ))
        })
}

/// One series of a study, as stored in its image set.
pub struct SeriesView<'a> {
    pub set: &'a ImageSet,
    pub uid: String,
    pub entry: &'a Object,
}

impl<'a> SeriesView<'a> {
    pub fn doc(&self) -> &'a Value {
        &self.set.latest().document
    }
    pub fn series_attrs(&self) -> Option<&'a Object> {
        self.entry.get("DICOM").and_then(Value::as_object)
    }
    pub fn instances(&self) -> impl Iterator<Item = (&'a str, &'a Object)> {
        self.entry
            .get("Instances")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.as_str(), v.as_object()?)))
    }
}

fn series_in<'a>(set: &'a ImageSet, study: &str, series: &str) -> Option<SeriesView<'a>> {
    (study_uid(set) == Some(study))
        .then(|| {
            document::series_map(&set.latest().document)?
                .get(series)?
                .as_object()
        })
        .flatten()
        .map(|entry| SeriesView {
            set,
            uid: series.to_string(),
            entry,
        })
}

/// A series: in the image set `image_set_id` names (any image set, primary or not), else in
/// the primary image set holding it; 404 when not found.
pub fn series<'a>(
    ds: &'a Datastore,
    study: &str,
    series: &str,
    image_set_id: Option<&str>,
) -> ApiResult<SeriesView<'a>> {
    let found = match image_set_id {
        Some(id) => {
            let set = ds.image_set(id)?;
            series_in(set, study, series)
        }
        None => primary_with(ds, TextField::SeriesInstanceUid, series)
            .into_iter()
            .find_map(|s| series_in(s, study, series)),
    };
    found.ok_or_else(|| {
        ApiError::not_found(format!(
            "Series {series} of study {study} does not exist in data store {}",
            ds.id()
        ))
    })
}

/// One instance of a series.
pub struct InstanceView<'a> {
    pub series: SeriesView<'a>,
    pub sop: String,
    pub entry: &'a Object,
}

pub fn instance<'a>(
    ds: &'a Datastore,
    study: &str,
    series_uid: &str,
    sop: &str,
    image_set_id: Option<&str>,
) -> ApiResult<InstanceView<'a>> {
    let s = series(ds, study, series_uid, image_set_id)?;
    let entry = s.instances().find(|(k, _)| *k == sop).map(|(_, v)| v);
    match entry {
        Some(entry) => Ok(InstanceView {
            series: s,
            sop: sop.to_string(),
            entry,
        }),
        None => Err(ApiError::not_found(format!(
            "Instance {sop} of series {series_uid} does not exist in data store {}",
            ds.id()
        ))),
    }
}

impl<'a> InstanceView<'a> {
    pub fn attrs(&self) -> Option<&'a Object> {
        self.entry.get("DICOM").and_then(Value::as_object)
    }
    pub fn vrs(&self) -> Option<&'a Object> {
        self.entry.get("DICOMVRs").and_then(Value::as_object)
    }
    /// All levels' attribute maps, patient first.
    pub fn levels(&self) -> Vec<&'a Object> {
        let doc = self.series.doc();
        [
            document::patient(doc),
            document::study(doc),
            self.series.series_attrs(),
            self.attrs(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
    pub fn stored_transfer_syntax(&self) -> &'a str {
        self.entry
            .get("StoredTransferSyntaxUID")
            .and_then(Value::as_str)
            .unwrap_or("1.2.840.10008.1.2.4.202")
    }
    /// The frame IDs in frame order.
    pub fn frame_ids(&self) -> Vec<&'a str> {
        self.entry
            .get("ImageFrames")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("ID")?.as_str())
            .collect()
    }
}
