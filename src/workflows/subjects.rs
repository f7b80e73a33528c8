//! What a workflow result is about, named as the tool's parameters: a patient, a study, a
//! series, or one SOP instance of a study or series. Results flatten one of these in.

use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PatientRef {
    pub patient_id: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StudyRef {
    pub study_instance_uid: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SeriesRef {
    pub series_instance_uid: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct InstanceInStudy {
    pub study_instance_uid: String,
    pub sop_instance_uid: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct InstanceInSeries {
    pub series_instance_uid: String,
    pub sop_instance_uid: String,
}
