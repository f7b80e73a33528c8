//! What an export asks for, checked once before a job starts: the selection, the destination
//! and the output syntax. The checked request is what the job record keeps (and a resumed job
//! reads back), so it is plain data.

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde::{Deserialize, Serialize};

use crate::engine::{validate, EngineError, EngineResult};
use crate::model::constraints::Shape;
use crate::workflows::common::dicom_uid;

/// Where the files go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Destination {
    /// `prefix` is empty or ends with `/`.
    S3 { bucket: String, prefix: String },
    /// A folder under the allowed file roots (as given; resolved when the job runs).
    File { path: String },
}

impl Destination {
    /// `s3://bucket/prefix/` or `file:///path`.
    pub fn parse(uri: &str) -> EngineResult<Self> {
        let bad = |why: &str| EngineError::invalid("output_s3_uri", why);
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let bucket_ok = (3..=63).contains(&bucket.len())
                && bucket
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
            if !bucket_ok {
                return Err(bad(
                    "the bucket name must be 3 to 63 lowercase letters, digits, '-' or '.'",
                ));
            }
            if prefix.split('/').any(|p| p == "." || p == "..") || prefix.starts_with('/') {
                return Err(bad(
                    "the prefix may not contain '.', '..' or empty leading parts",
                ));
            }
            let mut prefix = prefix.to_string();
            if !prefix.is_empty() && !prefix.ends_with('/') {
                prefix.push('/');
            }
            return Ok(Self::S3 {
                bucket: bucket.to_string(),
                prefix,
            });
        }
        if let Some(path) = uri.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad(
                    "a file URI names an absolute folder: file:///path/to/folder",
                ));
            }
            return Ok(Self::File {
                path: path.to_string(),
            });
        }
        Err(bad("must be s3://bucket/prefix/ or file:///path/to/folder"))
    }

    /// The URI of `relative` below the destination.
    pub fn uri_of(&self, relative: &str) -> String {
        match self {
            Self::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}{relative}"),
            Self::File { path } => {
                format!("file://{}/{relative}", path.trim_end_matches('/'))
            }
        }
    }

    /// Whether `uri` is this destination or inside it.
    pub fn contains(&self, uri: &str) -> bool {
        let root = self.uri_of("");
        uri.starts_with(&root) || format!("{uri}/") == root
    }
}

/// The output syntax.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Syntax {
    #[default]
    Stored,
    ExplicitVrLittleEndian,
}

impl Syntax {
    /// The transfer syntax UID to ask WADO-RS for (`None`: as stored).
    pub fn uid(self) -> Option<&'static str> {
        match self {
            Self::Stored => None,
            Self::ExplicitVrLittleEndian => {
                Some(crate::engine::dicomweb::wado::EXPLICIT_VR_LITTLE_ENDIAN)
            }
        }
    }
}

/// A checked export request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub datastore_id: String,
    pub destination: Destination,
    /// Assumed through STS for S3 destinations; not used for folders.
    pub data_access_role_arn: String,
    pub study_instance_uid: Option<String>,
    pub series_instance_uid: Option<String>,
    pub sop_instance_uid: Option<String>,
    /// Epoch seconds (image sets created at or after).
    pub submitted_after: Option<f64>,
    /// Epoch seconds (image sets created at or before).
    pub submitted_before: Option<f64>,
    pub syntax: Syntax,
    pub include_non_primary: bool,
    /// De-identify with the PS3.15 basic profile and these options.
    #[serde(default)]
    pub deidentify: Option<crate::deid::Options>,
    /// Where the identity map (original -> new UIDs) goes: a folder or bucket prefix and a
    /// file name, never inside the destination.
    #[serde(default)]
    pub identity_map: Option<(Destination, String)>,
}

/// The arguments of `start_dicom_export_job`, as given.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    pub datastore_id: String,
    pub data_access_role_arn: String,
    pub output_s3_uri: String,
    pub study_instance_uid: Option<String>,
    pub series_instance_uid: Option<String>,
    pub sop_instance_uid: Option<String>,
    pub submitted_before: Option<String>,
    pub submitted_after: Option<String>,
    pub syntax: Syntax,
    pub include_non_primary: bool,
    pub deidentify: Option<crate::deid::Options>,
    pub identity_map_uri: Option<String>,
}

/// An object URI (`s3://bucket/key.json`, `file:///folder/map.json`) as its folder and name.
fn object_location(uri: &str) -> EngineResult<(Destination, String)> {
    let bad = || {
        EngineError::invalid(
            "identity_map_uri",
            "must name a file: s3://bucket/path/map.json or file:///folder/map.json",
        )
    };
    let (parent, name) = uri.rsplit_once('/').ok_or_else(bad)?;
    if !crate::files::is_plain_name(name) {
        return Err(bad());
    }
    let folder = Destination::parse(&format!("{parent}/"))
        .map_err(|e| EngineError::invalid("identity_map_uri", e.message))?;
    Ok((folder, name.to_string()))
}

/// An ISO-8601 date-time (or a date, taken as its midnight UTC) as epoch seconds.
fn instant(param: &str, v: &str) -> EngineResult<f64> {
    let v = v.trim();
    let parsed = DateTime::from_str(v, Format::DateTime)
        .or_else(|_| DateTime::from_str(&format!("{v}T00:00:00Z"), Format::DateTime));
    parsed.map(|d| d.as_secs_f64()).map_err(|_| {
        EngineError::invalid(
            param,
            "must be an ISO-8601 date-time such as 2024-01-31T00:00:00Z (or a date 2024-01-31)",
        )
    })
}

fn opt_uid(v: &Option<String>, param: &str) -> EngineResult<Option<String>> {
    v.as_deref().map(|u| dicom_uid(u, param)).transpose()
}

/// Checks the arguments; every refusal is a validation error before any job starts.
pub fn check(a: Asked) -> EngineResult<ExportRequest> {
    validate::shape("datastore_id", &a.datastore_id, Shape::ResourceId)?;
    let role = a.data_access_role_arn.trim();
    if !role.starts_with("arn:") || role.split(':').count() < 6 || role.len() > 2048 {
        return Err(EngineError::invalid(
            "data_access_role_arn",
            "must be an IAM role ARN such as arn:aws:iam::123456789012:role/ExportRole",
        ));
    }
    let destination = Destination::parse(a.output_s3_uri.trim())?;
    let study = opt_uid(&a.study_instance_uid, "study_instance_uid")?;
    let series = opt_uid(&a.series_instance_uid, "series_instance_uid")?;
    let sop = opt_uid(&a.sop_instance_uid, "sop_instance_uid")?;
    let after = a
        .submitted_after
        .as_deref()
        .map(|v| instant("submitted_after", v))
        .transpose()?;
    let before = a
        .submitted_before
        .as_deref()
        .map(|v| instant("submitted_before", v))
        .transpose()?;
    if let (Some(a), Some(b)) = (after, before) {
        if a > b {
            return Err(EngineError::invalid(
                "submitted_after",
                "must not be later than submitted_before",
            ));
        }
    }
    if study.is_none() && series.is_none() && sop.is_none() && after.is_none() && before.is_none() {
        return Err(EngineError::invalid(
            "study_instance_uid",
            "name what to export: study_instance_uid, series_instance_uid, sop_instance_uid, or a submitted_after/submitted_before window (a whole data store is never exported by omission)",
        ));
    }
    let identity_map = match (&a.deidentify, a.identity_map_uri.as_deref()) {
        (_, None) => None,
        (None, Some(_)) => {
            return Err(EngineError::invalid(
                "identity_map_uri",
                "is only written by a de-identifying export (give deidentify too)",
            ))
        }
        (Some(_), Some(uri)) => {
            let uri = uri.trim();
            if destination.contains(uri) {
                return Err(EngineError::invalid(
                    "identity_map_uri",
                    "must not be inside output_s3_uri: the identity map never goes beside the de-identified files",
                ));
            }
            Some(object_location(uri)?)
        }
    };
    Ok(ExportRequest {
        datastore_id: a.datastore_id,
        destination,
        data_access_role_arn: role.to_string(),
        study_instance_uid: study,
        series_instance_uid: series,
        sop_instance_uid: sop,
        submitted_after: after,
        submitted_before: before,
        syntax: a.syntax,
        include_non_primary: a.include_non_primary,
        deidentify: a.deidentify,
        identity_map,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked() -> Asked {
        Asked {
            datastore_id: "0123456789abcdef0123456789abcdef".into(),
            data_access_role_arn: "arn:aws:iam::123456789012:role/R".into(),
            output_s3_uri: "s3://my-bucket/out".into(),
            study_instance_uid: Some("1.2.3".into()),
            ..Asked::default()
        }
    }

    #[test]
    fn destinations_parse_and_refuse() {
        assert_eq!(
            Destination::parse("s3://my-bucket/a/b").unwrap(),
            Destination::S3 {
                bucket: "my-bucket".into(),
                prefix: "a/b/".into()
            }
        );
        assert_eq!(
            Destination::parse("s3://my-bucket")
                .unwrap()
                .uri_of("x.dcm"),
            "s3://my-bucket/x.dcm"
        );
        assert_eq!(
            Destination::parse("file:///tmp/out/")
                .unwrap()
                .uri_of("m.json"),
            "file:///tmp/out/m.json"
        );
        for bad in [
            "http://x/y",
            "s3://B/x",
            "s3://ok-bucket/../x",
            "file://rel/x",
            "s3://ab",
        ] {
            assert!(Destination::parse(bad).is_err(), "{bad}");
        }
        let d = Destination::parse("s3://my-bucket/out/").unwrap();
        assert!(d.contains("s3://my-bucket/out/map.json"));
        assert!(d.contains("s3://my-bucket/out"));
        assert!(!d.contains("s3://my-bucket/outside/map.json"));
    }

    #[test]
    fn bad_combinations_are_validation_errors() {
        assert!(check(asked()).is_ok());
        let none = Asked {
            study_instance_uid: None,
            ..asked()
        };
        assert!(check(none).is_err());
        let reversed = Asked {
            submitted_after: Some("2024-02-01".into()),
            submitted_before: Some("2024-01-01T00:00:00Z".into()),
            ..asked()
        };
        assert!(check(reversed).is_err());
        let bad_time = Asked {
            submitted_after: Some("yesterday".into()),
            ..asked()
        };
        assert!(check(bad_time).is_err());
        let bad_role = Asked {
            data_access_role_arn: "role".into(),
            ..asked()
        };
        assert!(check(bad_role).is_err());
        let window = Asked {
            study_instance_uid: None,
            submitted_after: Some("2024-01-01".into()),
            ..asked()
        };
        assert_eq!(check(window).unwrap().submitted_after, Some(1704067200.0));
        let map_without_deid = Asked {
            identity_map_uri: Some("s3://keys-bucket/map.json".into()),
            ..asked()
        };
        assert!(check(map_without_deid).is_err());
        let deid = |uri: &str| Asked {
            deidentify: Some(crate::deid::Options::default()),
            identity_map_uri: Some(uri.into()),
            ..asked()
        };
        assert!(check(deid("s3://my-bucket/out/map.json")).is_err());
        assert!(check(deid("s3://my-bucket/out/sub/")).is_err());
        let ok = check(deid("s3://my-bucket/keys/map.json")).unwrap();
        assert_eq!(
            ok.identity_map,
            Some((
                Destination::S3 {
                    bucket: "my-bucket".into(),
                    prefix: "keys/".into()
                },
                "map.json".into()
            ))
        );
    }
}
