//! QIDO-RS (PS3.18 §10.6) as HealthImaging serves it: the query keys it supports per level
//! (keyword or tag form), their matching (single value, UID list, wildcard, date/time range,
//! fuzzy person names), `limit` / `offset` within the 10,000-record window, `includefield`, and
//! the attributes each result carries.

use dicom_core::Tag;
use serde_json::Value;

use crate::dicom::json::keyword_of;
use crate::dicom::part10::tag_of_key;
use crate::local::document::Object;
use crate::local::error::{ApiError, ApiResult};
use crate::local::protocol::Params;

/// Records reachable through `offset + limit` (the service's documented ceiling).
pub const MAX_RECORDS: usize = 10_000;
/// Results per request when `limit` is absent, and the most one request returns.
pub const DEFAULT_LIMIT: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Study,
    Series,
    Instance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Matching {
    /// Exact, or one of a `\`-separated list.
    Uid,
    /// Exact, with `*` and `?` wildcards.
    Text,
    /// Like `Text`; with fuzzymatching, case-insensitive on any name component's start.
    PersonName,
    /// `YYYYMMDD`, or a range `A-B`, `-B`, `A-`.
    Range,
    /// An integer, compared as a number.
    Number,
}

/// The keys each level can be searched by.
fn supported(level: Level) -> &'static [(&'static str, Matching)] {
    match level {
        Level::Study => &[
            ("StudyInstanceUID", Matching::Uid),
            ("PatientID", Matching::Text),
            ("PatientName", Matching::PersonName),
            ("AccessionNumber", Matching::Text),
            ("StudyDate", Matching::Range),
            ("StudyTime", Matching::Range),
            ("StudyID", Matching::Text),
            ("ModalitiesInStudy", Matching::Text),
            ("StudyDescription", Matching::Text),
            ("ReferringPhysicianName", Matching::PersonName),
        ],
        Level::Series => &[
            ("SeriesInstanceUID", Matching::Uid),
            ("Modality", Matching::Text),
            ("SeriesNumber", Matching::Number),
        ],
        Level::Instance => &[
            ("SOPInstanceUID", Matching::Uid),
            ("SOPClassUID", Matching::Uid),
            ("InstanceNumber", Matching::Number),
        ],
    }
}

/// The attributes every result of a level carries (PS3.18 Table 10.6.3-3 to -5, as far as the
/// metadata holds them), besides the keys matched on and `includefield`.
pub fn default_fields(level: Level) -> &'static [&'static str] {
    match level {
        Level::Study => &[
            "SpecificCharacterSet",
            "StudyDate",
            "StudyTime",
            "AccessionNumber",
            "ModalitiesInStudy",
            "ReferringPhysicianName",
            "TimezoneOffsetFromUTC",
            "PatientName",
            "PatientID",
            "PatientBirthDate",
            "PatientSex",
            "StudyInstanceUID",
            "StudyID",
            "StudyDescription",
            "NumberOfStudyRelatedSeries",
            "NumberOfStudyRelatedInstances",
        ],
        Level::Series => &[
            "SpecificCharacterSet",
            "StudyInstanceUID",
            "Modality",
            "TimezoneOffsetFromUTC",
            "SeriesDescription",
            "SeriesInstanceUID",
            "SeriesNumber",
            "NumberOfSeriesRelatedInstances",
            "PerformedProcedureStepStartDate",
            "PerformedProcedureStepStartTime",
            "RequestAttributesSequence",
        ],
        Level::Instance => &[
            "SpecificCharacterSet",
            "SOPClassUID",
            "SOPInstanceUID",
            "TimezoneOffsetFromUTC",
            "InstanceNumber",
            "Rows",
            "Columns",
            "BitsAllocated",
            "NumberOfFrames",
            "StudyInstanceUID",
            "SeriesInstanceUID",
        ],
    }
}

/// One matching key.
#[derive(Debug, Clone)]
pub struct Filter {
    pub keyword: &'static str,
    value: String,
    matching: Matching,
}

/// A parsed QIDO-RS query.
#[derive(Debug, Clone)]
pub struct Query {
    pub filters: Vec<Filter>,
    /// Extra attributes to return (keywords or hex tags); `all` adds every attribute.
    pub include: Vec<String>,
    pub include_all: bool,
    pub fuzzy: bool,
    pub offset: usize,
    pub limit: usize,
}

/// A keyword for a query key given as keyword or `GGGGEEEE` (or `GGGG,EEEE`).
fn keyword(key: &str) -> Option<&'static str> {
    let compact = key.replace(',', "");
    let tag: Tag = tag_of_key(&compact)?;
    keyword_of(tag)
}

fn count(params: &Params, name: &str, default: usize) -> ApiResult<usize> {
    match params.get(name) {
        None => Ok(default),
        Some(v) => v.trim().parse::<usize>().map_err(|_| {
            ApiError::validation(format!("{name} must be a non-negative integer, not '{v}'"))
        }),
    }
}

impl Query {
    pub fn parse(params: &Params, level: Level) -> ApiResult<Self> {
        let keys = supported(level);
        let mut q = Query {
            filters: Vec::new(),
            include: Vec::new(),
            include_all: false,
            fuzzy: false,
            offset: count(params, "offset", 0)?,
            limit: count(params, "limit", DEFAULT_LIMIT)?.min(DEFAULT_LIMIT),
        };
        if q.offset >= MAX_RECORDS {
            return Err(ApiError::validation(format!(
                "offset {} is beyond the {MAX_RECORDS} records a search can reach",
                q.offset
            )));
        }
        q.limit = q.limit.min(MAX_RECORDS - q.offset);
        for (name, value) in &params.0 {
            match name.as_str() {
                "offset" | "limit" => {}
                "fuzzymatching" => match value.as_str() {
                    "true" => q.fuzzy = true,
                    "false" => q.fuzzy = false,
                    other => {
                        return Err(ApiError::validation(format!(
                            "fuzzymatching must be true or false, not '{other}'"
                        )))
                    }
                },
                "includefield" => {
                    for f in value.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                        if f == "all" {
                            q.include_all = true;
                        } else if let Some(k) = keyword(f) {
                            q.include.push(k.to_string());
                        } else {
                            q.include.push(f.replace(',', "").to_ascii_uppercase());
                        }
                    }
                }
                other => {
                    let found =
                        keyword(other).and_then(|k| keys.iter().find(|(name, _)| *name == k));
                    let Some((kw, matching)) = found else {
                        let names: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
                        return Err(ApiError::validation(format!(
                            "'{other}' is not a supported query key here; supported: {}, limit, offset, includefield, fuzzymatching",
                            names.join(", ")
                        )));
                    };
                    q.filters.push(Filter {
                        keyword: kw,
                        value: value.clone(),
                        matching: *matching,
                    });
                }
            }
        }
        Ok(q)
    }

    /// Whether a record's attributes (metadata form) match every filter of this query.
    pub fn admits(&self, attrs: &Object) -> bool {
        self.filters
            .iter()
            .all(|f| f.matches(&values_of(Some(attrs), f.keyword), self.fuzzy))
    }

    /// The window of `all` this query asks for.
    pub fn window<T>(&self, all: Vec<T>) -> Vec<T> {
        all.into_iter().skip(self.offset).take(self.limit).collect()
    }
}

/// The values of an attribute as text (strings, numbers, PN text), empty when absent.
pub fn values_of(attrs: Option<&Object>, keyword: &str) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match attrs.and_then(|a| a.get(keyword)) {
        Some(Value::Array(a)) => a.iter().filter_map(one).collect(),
        Some(v) => one(v).into_iter().collect(),
        None => Vec::new(),
    }
}

/// `*` any run, `?` any one character.
fn wildcard(pattern: &[char], text: &[char]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some('*'), _) => {
            wildcard(&pattern[1..], text) || (!text.is_empty() && wildcard(pattern, &text[1..]))
        }
        (Some('?'), Some(_)) => wildcard(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => wildcard(&pattern[1..], &text[1..]),
        _ => false,
    }
}

fn text_matches(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.trim().chars().collect();
    wildcard(&p, &v)
}

fn in_range(range: &str, value: &str) -> bool {
    let v = value.replace(':', "");
    match range.split_once('-') {
        Some((lo, hi)) => {
            let lo = lo.replace(':', "");
            let hi = hi.replace(':', "");
            (lo.is_empty() || v.as_str() >= lo.as_str())
                && (hi.is_empty() || v.as_str() <= hi.as_str() || v.starts_with(&hi))
        }
        None => v == range.replace(':', "") || v.starts_with(&range.replace(':', "")),
    }
}

impl Filter {
    /// The key's value as given (trimmed).
    pub fn value_text(&self) -> String {
        self.value.trim().to_string()
    }

    /// Whether the attribute values (of the record) satisfy this key. An empty key matches
    /// everything (it only asks for the attribute to be returned).
    pub fn matches(&self, values: &[String], fuzzy: bool) -> bool {
        let want = self.value.trim();
        if want.is_empty() || want == "*" {
            return true;
        }
        values.iter().any(|v| match self.matching {
            Matching::Uid => want.split('\\').any(|u| u.trim() == v.trim()),
            Matching::Text => text_matches(want, v),
            Matching::PersonName if fuzzy => {
                let w = want.trim_end_matches('*').to_lowercase();
                let v = v.to_lowercase();
                v.split(['^', '=', ' '])
                    .any(|component| component.starts_with(&w))
                    || text_matches(&want.to_lowercase(), &v)
            }
            Matching::PersonName => text_matches(want, v),
            Matching::Range => in_range(want, v.trim()),
            Matching::Number => match (want.parse::<i64>(), v.trim().parse::<i64>()) {
                (Ok(a), Ok(b)) => a == b,
                _ => want == v.trim(),
            },
        })
    }
}

/// Whether a result field should be returned: a default field, a matched key, or included.
pub fn wanted(query: &Query, level: Level, keyword: &str, tag_hex: &str) -> bool {
    query.include_all
        || default_fields(level).contains(&keyword)
        || query.filters.iter().any(|f| f.keyword == keyword)
        || query.include.iter().any(|i| i == keyword || i == tag_hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str, level: Level) -> ApiResult<Query> {
        Query::parse(&Params::parse(Some(s)), level)
    }

    #[test]
    fn keys_by_keyword_or_tag_and_their_matching() {
        let query = q(
            "00100020=P*&StudyDate=20240101-20240131&limit=5&offset=2",
            Level::Study,
        )
        .unwrap();
        assert_eq!((query.offset, query.limit), (2, 5));
        let by = |k: &str| query.filters.iter().find(|f| f.keyword == k).unwrap();
        assert!(by("PatientID").matches(&["P1".into()], false));
        assert!(!by("PatientID").matches(&["Q1".into()], false));
        assert!(by("StudyDate").matches(&["20240105".into()], false));
        assert!(!by("StudyDate").matches(&["20240201".into()], false));
        let names = q("PatientName=doe&fuzzymatching=true", Level::Study).unwrap();
        assert!(names.filters[0].matches(&["DOE^JANE".into()], names.fuzzy));
        assert!(!names.filters[0].matches(&["DOE^JANE".into()], false));
        let uids = q("StudyInstanceUID=1.2\\1.3", Level::Study).unwrap();
        assert!(uids.filters[0].matches(&["1.3".into()], false));
        let n = q("SeriesNumber=1", Level::Series).unwrap();
        assert!(n.filters[0].matches(&["1 ".into()], false));
    }

    #[test]
    fn unsupported_keys_and_the_window_are_validation_errors() {
        assert!(q("Modality=CT", Level::Study).is_err());
        assert!(q("offset=10000", Level::Study).is_err());
        assert!(q("limit=x", Level::Study).is_err());
        let edge = q("offset=9990&limit=100", Level::Study).unwrap();
        assert_eq!(edge.limit, 10);
        assert_eq!(q("limit=5000", Level::Study).unwrap().limit, DEFAULT_LIMIT);
    }
}
