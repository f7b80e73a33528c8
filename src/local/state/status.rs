//! The service's status values as enums. Each serialises to (and parses from) its wire string, so
//! stored state, journal records and responses all carry the names the service model uses.

use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $wire)] $variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s {
                    $($wire => Ok(Self::$variant),)+
                    _ => Err(()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// `DatastoreStatus`.
    DatastoreStatus {
        Creating = "CREATING",
        CreateFailed = "CREATE_FAILED",
        Active = "ACTIVE",
        Deleting = "DELETING",
        Deleted = "DELETED",
    }
);

wire_enum!(
    /// `ImageSetState`.
    ImageSetState {
        Active = "ACTIVE",
        Locked = "LOCKED",
        Deleted = "DELETED",
    }
);

wire_enum!(
    /// `ImageSetWorkflowStatus`.
    WorkflowStatus {
        Created = "CREATED",
        Copied = "COPIED",
        Copying = "COPYING",
        CopyingWithReadOnlyAccess = "COPYING_WITH_READ_ONLY_ACCESS",
        CopyFailed = "COPY_FAILED",
        Updating = "UPDATING",
        UpdatingForStudyConsistency = "UPDATING_FOR_STUDY_CONSISTENCY",
        Updated = "UPDATED",
        UpdateFailed = "UPDATE_FAILED",
        Deleting = "DELETING",
        Deleted = "DELETED",
        Importing = "IMPORTING",
        Imported = "IMPORTED",
        ImportFailed = "IMPORT_FAILED",
    }
);

wire_enum!(
    /// `JobStatus` of a DICOM import job.
    JobStatus {
        Submitted = "SUBMITTED",
        InProgress = "IN_PROGRESS",
        Completed = "COMPLETED",
        Failed = "FAILED",
    }
);

wire_enum!(
    /// `StorageTier`.
    StorageTier {
        FrequentAccess = "FREQUENT_ACCESS",
        ArchiveInstantAccess = "ARCHIVE_INSTANT_ACCESS",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_travel_as_their_wire_strings() {
        assert_eq!(
            serde_json::to_value(WorkflowStatus::CopyingWithReadOnlyAccess).unwrap(),
            "COPYING_WITH_READ_ONLY_ACCESS"
        );
        assert_eq!(
            "IN_PROGRESS".parse::<JobStatus>(),
            Ok(JobStatus::InProgress)
        );
        assert_eq!(
            serde_json::from_str::<DatastoreStatus>("\"DELETED\"").unwrap(),
            DatastoreStatus::Deleted
        );
        assert!("active".parse::<ImageSetState>().is_err());
    }
}
