//! De-identification of DICOM instances: the PS3.15 Annex E Basic Application Level
//! Confidentiality Profile as a table, its options, and one UID mapping per export job.
//! To be built (export issue).
