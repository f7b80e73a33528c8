//! Constraints of the `medical-imaging` 2023-07-19 service model: patterns, lengths and ranges
//! of the shapes that requests carry. A check returns the violated rule as text, for callers to
//! wrap in their own error (AWS's wording on the server, parameter names in the engine).

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;

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
}

struct Rule {
    min: usize,
    max: usize,
    pattern: Option<&'static str>,
    /// How the pattern is shown in messages (the model's text when the regex is rewritten).
    shown: &'static str,
}

fn rule(shape: Shape) -> Rule {
    let r = |min, max, pattern, shown| Rule {
        min,
        max,
        pattern,
        shown,
    };
    match shape {
        Shape::ResourceId => r(32, 32, Some("[0-9a-z]{32}"), "[0-9a-z]{32}"),
        Shape::JobId => r(1, 32, Some("[0-9a-z]+"), "[0-9a-z]+"),
        Shape::VersionId => r(1, 64, Some("[0-9]+"), "\\d+"),
        Shape::DatastoreName => r(1, 256, Some("[A-Za-z0-9._/#-]+"), "[A-Za-z0-9._/#-]+"),
        Shape::JobName => r(1, 64, Some("[A-Za-z0-9._/#-]+"), "[A-Za-z0-9._/#-]+"),
        Shape::ClientToken => r(1, 64, Some("[A-Za-z0-9._-]+"), "[A-Za-z0-9._-]+"),
        Shape::S3Uri => r(
            1,
            1024,
            Some(r"s3://[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9](/.*)?"),
            r"s3://[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9](/.*)?",
        ),
        Shape::RoleArn => r(
            20,
            2048,
            Some(r"arn:aws(-[^:]+)?:iam::[0-9]{12}:role/.+"),
            "arn:aws(-[^:]+)?:iam::[0-9]{12}:role/.+",
        ),
        Shape::KmsKeyArn => r(
            1,
            512,
            Some(
                r"arn:aws[a-zA-Z-]{0,16}:kms:[a-z]{2}(-[a-z]{1,16}){1,3}-\d{1}:\d{12}:((key/[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12})|(alias/[a-zA-Z0-9:/_-]{1,256}))",
            ),
            "arn:aws:kms:<region>:<account>:(key/<uuid>|alias/<name>)",
        ),
        Shape::LambdaArn => r(
            1,
            2048,
            Some(
                r"arn:aws[a-zA-Z-]{0,16}:lambda:[a-z]{2}(-[a-z]{1,16}){1,3}-\d{1}:\d{12}:function:[a-zA-Z0-9\-_\.]+(:(\$LATEST|[a-zA-Z0-9\-_]+))?",
            ),
            "arn:aws:lambda:<region>:<account>:function:<name>(:<qualifier>)?",
        ),
        Shape::ResourceArn => r(
            1,
            2048,
            Some(
                r"arn:aws((-us-gov)|(-iso)|(-iso-b)|(-cn))?:medical-imaging:[a-z0-9-]+:[0-9]{12}:datastore/[0-9a-z]{32}(/imageset/[0-9a-z]{32})?",
            ),
            "arn:aws:medical-imaging:<region>:<account>:datastore/<32 chars [0-9a-z]>(/imageset/<32 chars [0-9a-z]>)?",
        ),
        Shape::AwsAccountId => r(12, 12, Some("[0-9]+"), "\\d+"),
        Shape::TagKey => r(1, 128, Some(r"[a-zA-Z+\-=._:/]+"), "(?!aws:)[a-zA-Z+-=._:/]+"),
        Shape::TagValue => r(0, 256, None, ""),
        Shape::DicomUid => r(0, 512, Some("[0-9.]*"), "[0-9.]+"),
    }
}

const ALL: [Shape; 15] = [
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
];

/// The compiled pattern of a shape (all compiled once, on first use).
fn regex_for(shape: Shape) -> Option<&'static Regex> {
    static COMPILED: OnceLock<HashMap<Shape, Regex>> = OnceLock::new();
    COMPILED
        .get_or_init(|| {
            ALL.iter()
                .filter_map(|s| {
                    let p = rule(*s).pattern?;
                    let re = Regex::new(&format!("^(?:{p})$")).expect("model pattern compiles");
                    Some((*s, re))
                })
                .collect()
        })
        .get(&shape)
}

/// Checks `value` against the shape; `Err` holds the violated rule in AWS's words.
pub fn check(shape: Shape, value: &str) -> Result<(), String> {
    let r = rule(shape);
    let n = value.chars().count();
    if n < r.min || n > r.max {
        return Err(if r.min == r.max {
            format!("Member must have length {}", r.min)
        } else {
            format!(
                "Member must have length between {} and {}, inclusive",
                r.min, r.max
            )
        });
    }
    if shape == Shape::TagKey && value.starts_with("aws:") {
        return Err(format!(
            "Member must satisfy regular expression pattern: {}",
            r.shown
        ));
    }
    if let Some(re) = regex_for(shape) {
        if !re.is_match(value) {
            return Err(format!(
                "Member must satisfy regular expression pattern: {}",
                r.shown
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(check(Shape::ResourceId, &"a".repeat(32)).is_ok());
        assert!(check(Shape::ResourceId, &"A".repeat(32)).is_err());
        assert!(check(Shape::ResourceId, "abc").is_err());
        assert!(check(Shape::S3Uri, "s3://bucket/prefix/").is_ok());
        assert!(check(Shape::S3Uri, "https://bucket/").is_err());
        assert!(check(Shape::RoleArn, "arn:aws:iam::123456789012:role/ImportRole").is_ok());
        assert!(check(Shape::RoleArn, "arn:aws:iam::1234:role/x").is_err());
        assert!(check(Shape::TagKey, "aws:reserved").is_err());
        assert!(check(Shape::TagKey, "team").is_ok());
        assert!(check(Shape::VersionId, "12").is_ok());
        assert!(check(Shape::VersionId, "1a").is_err());
        let arn = format!(
            "arn:aws:medical-imaging:us-east-1:123456789012:datastore/{}",
            "0".repeat(32)
        );
        assert!(check(Shape::ResourceArn, &arn).is_ok());
        assert!(check(Shape::ResourceArn, "arn:aws:s3:::bucket").is_err());
        assert!(check(Shape::ResourceId, "abc")
            .unwrap_err()
            .contains("length 32"));
    }
}
