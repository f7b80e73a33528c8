//! Per data store indexes of the searchable attributes of each image set's latest version, so a
//! filtered SearchImageSets looks up its candidates instead of scanning the store.
//!
//! The index is brought up to date for every image set a write touched when the write commits
//! (`take_changes`) and for every image set replayed at start (`apply`), so no write path can
//! forget it. Lookups return candidates only: the search checks each against the image set itself.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Bound;

use super::ImageSet;
use crate::local::document;

/// `YYYYMMDD` + `HHMMSS[.ffffff]` as one sortable string (colons dropped, the time padded so
/// "10" and "101500.5" order correctly against each other).
pub fn study_date_time(date: &str, time: &str) -> String {
    let mut t = time.replace(':', "");
    while t.len() < 6 {
        t.push('0');
    }
    format!("{date}{t}")
}

/// The study date-and-time key of an image set's latest version (`None` without a StudyDate).
pub fn study_date_key(set: &ImageSet) -> Option<String> {
    let study = document::study(&set.latest().document);
    let date = document::text(study, "StudyDate")?;
    Some(study_date_time(
        date,
        document::text(study, "StudyTime").unwrap_or(""),
    ))
}

/// A timestamp as a totally ordered key (`-0.0` and `0.0` are one key, as `==` has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeKey(i64);

impl TimeKey {
    pub fn of(t: f64) -> Self {
        let bits = (t + 0.0).to_bits() as i64;
        // The usual total-order trick: flip the magnitude bits of negative numbers.
        Self(bits ^ (((bits >> 63) as u64) >> 1) as i64)
    }
}

/// The text attributes looked up by EQUAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextField {
    PatientId,
    AccessionNumber,
    StudyId,
    StudyInstanceUid,
    SeriesInstanceUid,
}

/// What one image set is indexed under (kept so its entries can be removed).
#[derive(Debug, Clone, PartialEq)]
struct Keys {
    text: Vec<(TextField, String)>,
    created: TimeKey,
    updated: TimeKey,
    study_date_time: Option<String>,
    primary: bool,
}

impl Keys {
    fn of(set: &ImageSet) -> Self {
        let doc = &set.latest().document;
        let study = document::study(doc);
        let mut text = Vec::new();
        for (field, attrs, name) in [
            (TextField::PatientId, document::patient(doc), "PatientID"),
            (TextField::AccessionNumber, study, "AccessionNumber"),
            (TextField::StudyId, study, "StudyID"),
            (TextField::StudyInstanceUid, study, "StudyInstanceUID"),
        ] {
            if let Some(v) = document::text(attrs, name) {
                text.push((field, v.to_string()));
            }
        }
        for uid in document::series_map(doc).into_iter().flat_map(|m| m.keys()) {
            text.push((TextField::SeriesInstanceUid, uid.clone()));
        }
        Self {
            text,
            created: TimeKey::of(set.created_at),
            updated: TimeKey::of(set.latest().updated_at),
            study_date_time: study_date_key(set),
            primary: set.is_primary,
        }
    }
}

/// The indexes of one data store.
#[derive(Debug, Default)]
pub struct SearchIndex {
    keys: HashMap<String, Keys>,
    text: HashMap<(TextField, String), BTreeSet<String>>,
    created: BTreeSet<(TimeKey, String)>,
    updated: BTreeSet<(TimeKey, String)>,
    study_date_time: BTreeSet<(String, String)>,
    primary: BTreeSet<String>,
}

/// An inclusive range over an ordered set of `(key, id)`, empty when `lo > hi`.
fn range<'a, K: Ord + Clone>(
    set: &'a BTreeSet<(K, String)>,
    lo: &K,
    hi: &K,
) -> impl Iterator<Item = &'a str> + 'a {
    let bounds = (lo <= hi).then(|| {
        (
            Bound::Included((lo.clone(), String::new())),
            Bound::Included((hi.clone(), "\u{10FFFF}".repeat(2))),
        )
    });
    bounds
        .into_iter()
        .flat_map(move |b| set.range(b))
        .map(|(_, id)| id.as_str())
}

impl SearchIndex {
    /// Brings the entries of image set `id` up to date (`None`: it is gone).
    pub fn update(&mut self, id: &str, set: Option<&ImageSet>) {
        let new = set.map(Keys::of);
        if self.keys.get(id) == new.as_ref() {
            return;
        }
        if let Some(old) = self.keys.remove(id) {
            self.remove_entries(id, old);
        }
        if let Some(k) = new {
            for t in &k.text {
                self.text
                    .entry(t.clone())
                    .or_default()
                    .insert(id.to_string());
            }
            self.created.insert((k.created, id.to_string()));
            self.updated.insert((k.updated, id.to_string()));
            if let Some(s) = &k.study_date_time {
                self.study_date_time.insert((s.clone(), id.to_string()));
            }
            if k.primary {
                self.primary.insert(id.to_string());
            }
            self.keys.insert(id.to_string(), k);
        }
    }

    fn remove_entries(&mut self, id: &str, old: Keys) {
        for t in old.text {
            if let Some(ids) = self.text.get_mut(&t) {
                ids.remove(id);
                if ids.is_empty() {
                    self.text.remove(&t);
                }
            }
        }
        self.created.remove(&(old.created, id.to_string()));
        self.updated.remove(&(old.updated, id.to_string()));
        if let Some(s) = old.study_date_time {
            self.study_date_time.remove(&(s, id.to_string()));
        }
        self.primary.remove(id);
    }

    /// Image sets whose attribute `field` equals `value`.
    pub fn text_equal(&self, field: TextField, value: &str) -> HashSet<&str> {
        self.text
            .get(&(field, value.to_string()))
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect()
    }

    pub fn created_between(&self, lo: f64, hi: f64) -> HashSet<&str> {
        range(&self.created, &TimeKey::of(lo), &TimeKey::of(hi)).collect()
    }

    pub fn updated_between(&self, lo: f64, hi: f64) -> HashSet<&str> {
        range(&self.updated, &TimeKey::of(lo), &TimeKey::of(hi)).collect()
    }

    pub fn study_date_time_between(&self, lo: &str, hi: &str) -> HashSet<&str> {
        range(&self.study_date_time, &lo.to_string(), &hi.to_string()).collect()
    }

    /// Image sets whose study date-and-time key starts with `prefix`.
    pub fn study_date_time_prefix(&self, prefix: &str) -> HashSet<&str> {
        self.study_date_time
            .range((prefix.to_string(), String::new())..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, id)| id.as_str())
            .collect()
    }

    /// Image sets whose isPrimary is `primary`.
    pub fn primary(&self, primary: bool) -> HashSet<&str> {
        if primary {
            self.primary.iter().map(String::as_str).collect()
        } else {
            self.keys
                .keys()
                .filter(|id| !self.primary.contains(*id))
                .map(String::as_str)
                .collect()
        }
    }

    /// Every indexed image set.
    pub fn all(&self) -> HashSet<&str> {
        self.keys.keys().map(String::as_str).collect()
    }

    /// How many image sets are indexed.
    #[cfg(test)]
    pub fn indexed(&self) -> usize {
        self.keys.len()
    }
}
