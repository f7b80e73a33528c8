//! Constraints of the `medical-imaging` 2023-07-19 service model: patterns, lengths and ranges
//! of the shapes that requests carry. A check returns the violated rule as text, for callers to
//! wrap in their own error (AWS's wording on the server, parameter names in the engine).

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;

use super::java_regex;

/// A string shape of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// DatastoreId, ImageSetId, ImageFrameId.
    ResourceId,
    JobId,
    /// ImageSetExternalVersionId.
    VersionId,
    DatastoreName,
    JobName,
    ClientToken,
    S3Uri,
    RoleArn,
    KmsKeyArn,
    LambdaArn,
    /// Arn of a data store or image set (tagging).
    ResourceArn,
    AwsAccountId,
    TagKey,
    TagValue,
    /// DICOMStudyInstanceUID / DICOMSeriesInstanceUID in search.
    DicomUid,
    /// Search values: DICOMPatientId, DICOMAccessionNumber, DICOMStudyId (0 to 512 characters).
    DicomPatientId,
    DicomAccessionNumber,
    DicomStudyId,
    DicomStudyDate,
    DicomStudyTime,
    NextToken,
}

/// A shape's constraints exactly as the model states them (the pattern in the model's Java
/// syntax; it is translated for matching by `java_regex`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The model's shape name.
    pub model_shape: &'static str,
    pub min: Option<usize>,
    pub max: Option<usize>,
    pub pattern: Option<&'static str>,
}

pub fn rule(shape: Shape) -> Rule {
    let r = |model_shape, min, max, pattern| Rule {
        model_shape,
        min,
        max,
        pattern,
    };
    match shape {
        Shape::ResourceId => r("DatastoreId", None, None, Some("[0-9a-z]{32}")),
        Shape::JobId => r("JobId", Some(1), Some(32), Some("[0-9a-z]+")),
        Shape::VersionId => r("ImageSetExternalVersionId", None, None, Some(r"\d+")),
        Shape::DatastoreName => r("DatastoreName", Some(1), Some(256), Some("[A-Za-z0-9._/#-]+")),
        Shape::JobName => r("JobName", Some(1), Some(64), Some("[A-Za-z0-9._/#-]+")),
        Shape::ClientToken => r("ClientToken", Some(1), Some(64), Some("[A-Za-z0-9._-]+")),
        Shape::S3Uri => r(
            "S3Uri",
            Some(1),
            Some(1024),
            Some(r"s3://[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9](/.*)?"),
        ),
        Shape::RoleArn => r(
            "RoleArn",
            Some(20),
            Some(2048),
            Some("arn:aws(-[^:]+)?:iam::[0-9]{12}:role/.+"),
        ),
        Shape::KmsKeyArn => r(
            "KmsKeyArn",
            Some(1),
            Some(512),
            Some(r"arn:aws[a-zA-Z-]{0,16}:kms:[a-z]{2}(-[a-z]{1,16}){1,3}-\d{1}:\d{12}:((key/[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12})|(alias/[a-zA-Z0-9:/_-]{1,256}))"),
        ),
        Shape::LambdaArn => r(
            "LambdaArn",
            None,
            None,
            Some(r"arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?"),
        ),
        Shape::ResourceArn => r(
            "Arn",
            None,
            None,
            Some("arn:aws((-us-gov)|(-iso)|(-iso-b)|(-cn))?:medical-imaging:[a-z0-9-]+:[0-9]{12}:datastore/[0-9a-z]{32}(/imageset/[0-9a-z]{32})?"),
        ),
        Shape::AwsAccountId => r("AwsAccountId", Some(12), Some(12), Some(r"\d+")),
        Shape::TagKey => r("TagKey", Some(1), Some(128), Some("(?!aws:)[a-zA-Z+-=._:/]+")),
        Shape::TagValue => r("TagValue", Some(0), Some(256), None),
        Shape::DicomUid => r("DICOMStudyInstanceUID", Some(0), Some(512), Some("[0-9.]+")),
        Shape::DicomPatientId => r("DICOMPatientId", Some(0), Some(512), None),
        Shape::DicomAccessionNumber => r("DICOMAccessionNumber", Some(0), Some(512), None),
        Shape::DicomStudyId => r("DICOMStudyId", Some(0), Some(512), None),
        Shape::DicomStudyDate => r("DICOMStudyDate", Some(0), Some(36), None),
        Shape::DicomStudyTime => r("DICOMStudyTime", Some(0), Some(56), None),
        Shape::NextToken => r("NextToken", Some(1), Some(8192), Some(r"\p{ASCII}{0,8192}")),
    }
}

pub const ALL: [Shape; 21] = [
    Shape::ResourceId,
    Shape::JobId,
    Shape::VersionId,
    Shape::DatastoreName,
    Shape::JobName,
    Shape::ClientToken,
    Shape::S3Uri,
    Shape::RoleArn,
    Shape::KmsKeyArn,
    Shape::LambdaArn,
    Shape::ResourceArn,
    Shape::AwsAccountId,
    Shape::TagKey,
    Shape::TagValue,
    Shape::DicomUid,
    Shape::DicomPatientId,
    Shape::DicomAccessionNumber,
    Shape::DicomStudyId,
    Shape::DicomStudyDate,
    Shape::DicomStudyTime,
    Shape::NextToken,
];

/// A shape's pattern with Java's semantics: the translated regex and a forbidden prefix.
struct Matcher {
    regex: Regex,
    forbidden_prefix: Option<String>,
}

/// The compiled pattern of a shape (all translated and compiled once, on first use).
fn matcher_for(shape: Shape) -> Option<&'static Matcher> {
    static COMPILED: OnceLock<HashMap<Shape, Matcher>> = OnceLock::new();
    COMPILED
        .get_or_init(|| {
            ALL.iter()
                .filter_map(|s| {
                    let t = java_regex::translate(rule(*s).pattern?)
                        .expect("every model pattern translates");
                    let regex = Regex::new(&t.regex).expect("translated pattern compiles");
                    Some((
                        *s,
                        Matcher {
                            regex,
                            forbidden_prefix: t.forbidden_prefix,
                        },
                    ))
                })
                .collect()
        })
        .get(&shape)
}

/// Checks `value` against the shape; `Err` holds the violated rule in AWS's words.
pub fn check(shape: Shape, value: &str) -> Result<(), String> {
    let r = rule(shape);
    // The model counts length in characters (Unicode scalar values).
    let n = value.chars().count();
    match (r.min, r.max) {
        (Some(min), Some(max)) if n < min || n > max => {
            return Err(if min == max {
                format!("Member must have length {min}")
            } else {
                format!("Member must have length between {min} and {max}, inclusive")
            })
        }
        (Some(min), None) if n < min => {
            return Err(format!(
                "Member must have length greater than or equal to {min}"
            ))
        }
        (None, Some(max)) if n > max => {
            return Err(format!(
                "Member must have length less than or equal to {max}"
            ))
        }
        _ => {}
    }
    if let Some(m) = matcher_for(shape) {
        let refused = m
            .forbidden_prefix
            .as_deref()
            .is_some_and(|p| value.starts_with(p));
        if refused || !m.regex.is_match(value) {
            return Err(format!(
                "Member must satisfy regular expression pattern: {}",
                r.pattern.unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// `maxResults` of every list and search operation.
pub const MAX_RESULTS: std::ops::RangeInclusive<i64> = 1..=50;

pub const DATASTORE_STATUS: &[&str] =
    &["CREATING", "CREATE_FAILED", "ACTIVE", "DELETING", "DELETED"];
pub const JOB_STATUS: &[&str] = &["SUBMITTED", "IN_PROGRESS", "COMPLETED", "FAILED"];
pub const LOSSLESS_STORAGE_FORMAT: &[&str] = &["HTJ2K", "JPEG_2000_LOSSLESS"];
/// Size limit of each DICOMUpdates blob, in bytes.
pub const MAX_UPDATE_BLOB: usize = 30_000;
/// Length limit of copiableAttributes, in characters.
pub const MAX_COPIABLE: usize = 260_000;
/// Keys of one UntagResource call (TagKeyList).
pub const TAG_KEYS: std::ops::RangeInclusive<usize> = 0..=200;
/// Filters of a search (SearchCriteriaFiltersList) and values of a filter (SearchFilterValuesList).
pub const SEARCH_FILTERS: std::ops::RangeInclusive<usize> = 1..=2;
pub const FILTER_VALUES: std::ops::RangeInclusive<usize> = 1..=2;
/// Tags on one resource: a service quota (AWS's tagging limit), not a model constraint.
pub const MAX_TAGS_PER_RESOURCE: usize = 50;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn model() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/medical-imaging-service-2.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).expect("model fixture")).unwrap()
    }

    fn bound(shape: &Value, key: &str) -> Option<usize> {
        shape.get(key).map(|v| v.as_u64().unwrap() as usize)
    }

    /// Our constraints are the model's, shape by shape (the fixture is botocore's
    /// medical-imaging 2023-07-19 service-2.json).
    #[test]
    fn constraints_equal_the_service_model() {
        let m = model();
        let shapes = &m["shapes"];
        let same = |name: &str, r: &Rule| {
            let s = &shapes[name];
            assert!(s.is_object(), "{name} is not in the model");
            assert_eq!(s["type"], "string", "{name}");
            assert_eq!(bound(s, "min"), r.min, "{name} min");
            assert_eq!(bound(s, "max"), r.max, "{name} max");
            assert_eq!(
                s.get("pattern").and_then(Value::as_str),
                r.pattern,
                "{name} pattern"
            );
        };
        for shape in ALL {
            let r = rule(shape);
            same(r.model_shape, &r);
        }
        // Shapes that share one rule here.
        same("ImageSetId", &rule(Shape::ResourceId));
        same("ImageFrameId", &rule(Shape::ResourceId));
        same("DICOMSeriesInstanceUID", &rule(Shape::DicomUid));
        let range = |name: &str| (bound(&shapes[name], "min"), bound(&shapes[name], "max"));
        for name in [
            "ListDICOMImportJobsRequestMaxResultsInteger",
            "ListDatastoresRequestMaxResultsInteger",
            "ListImageSetVersionsRequestMaxResultsInteger",
            "SearchImageSetsRequestMaxResultsInteger",
        ] {
            let (lo, hi) = range(name);
            assert_eq!(
                (lo.unwrap() as i64, hi.unwrap() as i64),
                (*MAX_RESULTS.start(), *MAX_RESULTS.end()),
                "{name}"
            );
        }
        let pair = |r: &std::ops::RangeInclusive<usize>| (Some(*r.start()), Some(*r.end()));
        assert_eq!(range("TagKeyList"), pair(&TAG_KEYS));
        assert_eq!(range("SearchCriteriaFiltersList"), pair(&SEARCH_FILTERS));
        assert_eq!(range("SearchFilterValuesList"), pair(&FILTER_VALUES));
        assert_eq!(range("CopiableAttributes"), (Some(1), Some(MAX_COPIABLE)));
        let enums = |name: &str| -> Vec<String> {
            shapes[name]["enum"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(enums("DatastoreStatus"), DATASTORE_STATUS);
        assert_eq!(enums("JobStatus"), JOB_STATUS);
        assert_eq!(enums("LosslessStorageFormat"), LOSSLESS_STORAGE_FORMAT);
    }

    /// Every pattern of the model, used here or not, has a faithful Rust form.
    #[test]
    fn every_model_pattern_translates() {
        let m = model();
        let patterns: Vec<(&String, &str)> = m["shapes"]
            .as_object()
            .unwrap()
            .iter()
            .filter_map(|(name, s)| Some((name, s.get("pattern")?.as_str()?)))
            .collect();
        assert!(patterns.len() >= 20, "{}", patterns.len());
        for (name, p) in patterns {
            let t = java_regex::translate(p).unwrap_or_else(|e| panic!("{name}: {e}"));
            Regex::new(&t.regex).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    /// Valid and invalid values for every shape, checked with the model's (Java) semantics.
    #[test]
    fn every_shape_accepts_and_refuses_by_java_semantics() {
        let id = "0123456789abcdef0123456789abcdef";
        let acct = "123456789012";
        let long = |n: usize| "a".repeat(n);
        let table: Vec<(Shape, Vec<String>, Vec<String>)> = vec![
            (
                Shape::ResourceId,
                vec![id.into(), long(32)],
                vec![
                    "abc".into(),
                    "A".repeat(32),
                    format!("{id}0"),
                    format!("{}-", &id[..31]),
                ],
            ),
            (
                Shape::JobId,
                vec!["a".into(), long(32)],
                vec![String::new(), long(33), "A1".into()],
            ),
            (
                Shape::VersionId,
                vec!["1".into(), "120".into()],
                vec![String::new(), "1a".into(), "١".into(), "-1".into()],
            ),
            (
                Shape::DatastoreName,
                vec!["ds-1_a.b/c#d".into(), long(256)],
                vec![String::new(), long(257), "a b".into(), "a,b".into()],
            ),
            (
                Shape::JobName,
                vec!["import #1".replace(' ', "-"), long(64)],
                vec![long(65), "job 1".into()],
            ),
            (
                Shape::ClientToken,
                vec!["3f7b-1.x_y".into()],
                vec![String::new(), long(65), "a/b".into()],
            ),
            (
                Shape::S3Uri,
                vec!["s3://bucket/prefix/".into(), "s3://my.bucket-1".into()],
                vec![
                    "https://bucket/".into(),
                    "s3://ab".into(),
                    "s3://Bucket/x".into(),
                    "s3://bucket/a\nb".into(),
                ],
            ),
            (
                Shape::RoleArn,
                vec![
                    format!("arn:aws:iam::{acct}:role/ImportRole"),
                    format!("arn:aws-cn:iam::{acct}:role/x"),
                ],
                vec![
                    "arn:aws:iam::1234:role/x".into(),
                    format!("arn:aws:iam::{acct}:user/x"),
                    format!("arn:aws:iam::{acct}:role/a\rb"),
                ],
            ),
            (
                Shape::KmsKeyArn,
                vec![
                    format!(
                        "arn:aws:kms:us-east-1:{acct}:key/12345678-1234-1234-1234-123456789abc"
                    ),
                    format!("arn:aws:kms:us-gov-west-1:{acct}:alias/my/key_1"),
                ],
                vec![
                    format!("arn:aws:kms:us-east-1:{acct}:key/not-a-uuid"),
                    format!("arn:aws:kms:us-east-١:{acct}:alias/x"),
                ],
            ),
            (
                Shape::LambdaArn,
                vec![
                    format!("arn:aws:lambda:us-east-1:{acct}:function:auth-fn_1"),
                    format!("arn:aws:lambda:us-gov-west-1:{acct}:function:f:$LATEST"),
                    format!("arn::lambda:eu-west-1:{acct}:function:f:prod"),
                ],
                vec![
                    format!("arn:aws:lambda:us-east-1:{acct}:function:f.g"),
                    format!("arn:aws:lambda:useast1:{acct}:function:f"),
                ],
            ),
            (
                Shape::ResourceArn,
                vec![
                    format!("arn:aws:medical-imaging:us-east-1:{acct}:datastore/{id}"),
                    format!(
                        "arn:aws-cn:medical-imaging:cn-north-1:{acct}:datastore/{id}/imageset/{id}"
                    ),
                ],
                vec![
                    "arn:aws:s3:::bucket".into(),
                    format!("arn:aws:medical-imaging:us-east-1:{acct}:datastore/{id}/"),
                ],
            ),
            (
                Shape::AwsAccountId,
                vec![acct.into()],
                vec![
                    "12345678901".into(),
                    "12345678901a".into(),
                    "١٢٣٤٥٦٧٨٩٠١٢".into(),
                ],
            ),
            (
                Shape::TagKey,
                vec![
                    "team".into(),
                    "env1".into(),
                    "cost-center-01".into(),
                    "a+b=c".into(),
                    "x:y/z._".into(),
                    "<;=".into(),
                    "aws".into(),
                    long(128),
                ],
                vec![
                    String::new(),
                    "aws:reserved".into(),
                    "a b".into(),
                    "é".into(),
                    "a@b".into(),
                    long(129),
                ],
            ),
            (
                Shape::TagValue,
                vec![String::new(), "any value: ü\n".into(), long(256)],
                vec![long(257)],
            ),
            (
                Shape::DicomUid,
                vec!["1.2.840.10008".into(), "1".repeat(512)],
                vec![
                    String::new(),
                    "1.2.a".into(),
                    "1 .2".into(),
                    "1".repeat(513),
                ],
            ),
            (
                Shape::DicomPatientId,
                vec![String::new(), "PAT 1\u{a0}".into(), long(512)],
                vec![long(513)],
            ),
            (
                Shape::DicomAccessionNumber,
                vec!["ACC-1".into(), long(512)],
                vec![long(513)],
            ),
            (
                Shape::DicomStudyId,
                vec!["S1".into(), long(512)],
                vec![long(513)],
            ),
            (
                Shape::DicomStudyDate,
                vec!["20240101".into(), long(36)],
                vec![long(37)],
            ),
            (
                Shape::DicomStudyTime,
                vec!["101500.000".into(), long(56)],
                vec![long(57)],
            ),
            (
                Shape::NextToken,
                vec!["eyJ0b2tlbiI6MX0=".into(), long(8192)],
                vec![String::new(), "tök".into(), long(8193)],
            ),
        ];
        for shape in ALL {
            assert!(
                table.iter().any(|(s, ..)| *s == shape),
                "{shape:?} has no table row"
            );
        }
        for (shape, valid, invalid) in &table {
            for v in valid {
                assert_eq!(check(*shape, v), Ok(()), "{shape:?} should accept {v:?}");
            }
            for v in invalid {
                assert!(check(*shape, v).is_err(), "{shape:?} should refuse {v:?}");
            }
        }
    }

    #[test]
    fn messages_name_the_rule() {
        assert_eq!(
            check(Shape::JobId, "").unwrap_err(),
            "Member must have length between 1 and 32, inclusive"
        );
        assert_eq!(
            check(Shape::TagKey, "aws:x").unwrap_err(),
            "Member must satisfy regular expression pattern: (?!aws:)[a-zA-Z+-=._:/]+"
        );
        assert_eq!(
            check(Shape::AwsAccountId, "1").unwrap_err(),
            "Member must have length 12"
        );
    }
}
