//! HealthImaging's published default throttling quotas, per operation and account: the engine
//! paces itself by them, and the local HealthImaging can enforce them (`--quotas aws`).

/// One operation's default quota: sustained requests per second and burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub operation: &'static str,
    pub rate: f64,
    pub burst: f64,
}

const fn q(operation: &'static str, rate: f64, burst: f64) -> Quota {
    Quota {
        operation,
        rate,
        burst,
    }
}

/// The service's defaults (reference: Service Quotas for HealthImaging).
pub const DEFAULTS: &[Quota] = &[
    q("CreateDatastore", 0.085, 10.0),
    q("GetDatastore", 10.0, 20.0),
    q("ListDatastores", 5.0, 10.0),
    q("DeleteDatastore", 0.085, 10.0),
    q("StartDICOMImportJob", 0.25, 10.0),
    q("GetDICOMImportJob", 25.0, 50.0),
    q("ListDICOMImportJobs", 10.0, 20.0),
    q("SearchImageSets", 25.0, 50.0),
    q("GetImageSet", 25.0, 50.0),
    q("GetImageSetMetadata", 50.0, 100.0),
    q("GetImageFrame", 1000.0, 2000.0),
    q("ListImageSetVersions", 25.0, 50.0),
    q("UpdateImageSetMetadata", 0.25, 1.0),
    q("CopyImageSet", 0.25, 1.0),
    q("DeleteImageSet", 0.25, 1.0),
    q("TagResource", 10.0, 20.0),
    q("UntagResource", 10.0, 20.0),
    q("ListTagsForResource", 10.0, 20.0),
];

/// The default quota of `operation`, if it is one of the service's operations.
pub fn default_for(operation: &str) -> Option<Quota> {
    DEFAULTS.iter().copied().find(|q| q.operation == operation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_one_positive_quota() {
        assert_eq!(DEFAULTS.len(), 18);
        for q in DEFAULTS {
            assert!(q.rate > 0.0 && q.burst >= 1.0, "{q:?}");
            assert_eq!(default_for(q.operation), Some(*q));
        }
        assert_eq!(default_for("DeleteImageSet").unwrap().burst, 1.0);
        assert_eq!(default_for("Nope"), None);
    }
}
