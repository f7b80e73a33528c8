//! Which metadata level (Patient / Study / Series / Instance) a top-level DICOM attribute
//! belongs to, following AWS HealthImaging's metadata layout (metadata normalization:
//! Patient = Patient module incl. the Issuer of Patient ID macro and Clinical Trial Subject;
//! Study = General Study, Patient Study and Clinical Trial Study; Series = General Series,
//! Clinical Trial Series, Frame of Reference and General Equipment; everything else —
//! file meta group 0002, private tags, image attributes — is Instance level).

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::Tag;
use dicom_dictionary_std::StandardDataDictionary;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Patient,
    Study,
    Series,
    Instance,
}

impl Level {
    /// `"Patient"`, `"Study"`, `"Series"` or `"Instance"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Patient => "Patient",
            Level::Study => "Study",
            Level::Series => "Series",
            Level::Instance => "Instance",
        }
    }
}

/// Level of a top-level attribute, given by keyword (`"PatientName"`) or by an 8-hex-digit
/// tag (`"00100010"`, also `"(0010,0010)"` / `"0010,0010"`). Unknown keywords, private tags
/// and the file meta group are Instance level.
pub fn level_of(keyword_or_tag: &str) -> Level {
    let s = keyword_or_tag.trim();
    if let Some(tag) = parse_tag(s) {
        return level_of_tag(tag);
    }
    level_of_keyword(s)
}

/// Level of a top-level attribute by tag.
pub fn level_of_tag(tag: Tag) -> Level {
    if tag.group() % 2 == 1 || tag.group() == 0x0002 {
        return Level::Instance;
    }
    match StandardDataDictionary.by_tag(tag) {
        Some(entry) if entry.tag() == tag => level_of_keyword(entry.alias()),
        _ => Level::Instance,
    }
}

/// `GGGGEEEE`, `(GGGG,EEEE)` or `GGGG,EEEE`.
fn parse_tag(s: &str) -> Option<Tag> {
    let hex: String = s
        .chars()
        .filter(|c| !matches!(c, '(' | ')' | ',' | ' '))
        .collect();
    if hex.len() != 8 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    // No DICOM keyword is 8 hex digits, so this can't shadow a keyword.
    let g = u16::from_str_radix(&hex[..4], 16).ok()?;
    let e = u16::from_str_radix(&hex[4..], 16).ok()?;
    Some(Tag(g, e))
}

fn level_of_keyword(keyword: &str) -> Level {
    LEVEL_KEYWORDS
        .iter()
        .find(|(_, keywords)| keywords.contains(&keyword))
        .map_or(Level::Instance, |(level, _)| *level)
}

/// The keywords of each level above Instance (every other attribute is Instance level).
pub const LEVEL_KEYWORDS: [(Level, &[&str]); 3] = [
    (Level::Patient, PATIENT_KEYWORDS),
    (Level::Study, STUDY_KEYWORDS),
    (Level::Series, SERIES_KEYWORDS),
];

/// Every Patient-, Study- and Series-level keyword.
pub fn keywords() -> impl Iterator<Item = &'static str> {
    LEVEL_KEYWORDS
        .iter()
        .flat_map(|(_, keywords)| keywords.iter().copied())
}

/// Patient-level keywords.
pub const PATIENT_KEYWORDS: &[&str] = &[
    // ---- Patient module (C.7.1.1) + Issuer of Patient ID macro ----
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "IssuerOfPatientIDQualifiersSequence",
    "TypeOfPatientID",
    "PatientBirthDate",
    "PatientBirthDateInAlternativeCalendar",
    "PatientDeathDateInAlternativeCalendar",
    "PatientAlternativeCalendar",
    "PatientBirthTime",
    "PatientSex",
    "ReferencedPatientPhotoSequence",
    "QualityControlSubject",
    "ReferencedPatientSequence",
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "EthnicGroup",
    "EthnicGroupCodeSequence",
    "EthnicGroups",
    "PatientComments",
    "PatientSpeciesDescription",
    "PatientSpeciesCodeSequence",
    "PatientBreedDescription",
    "PatientBreedCodeSequence",
    "BreedRegistrationSequence",
    "StrainDescription",
    "StrainNomenclature",
    "StrainStockSequence",
    "StrainAdditionalInformation",
    "StrainCodeSequence",
    "GeneticModificationsSequence",
    "ResponsiblePerson",
    "ResponsiblePersonRole",
    "ResponsibleOrganization",
    "PatientIdentityRemoved",
    "DeidentificationMethod",
    "DeidentificationMethodCodeSequence",
    "SourcePatientGroupIdentificationSequence",
    "GroupOfPatientsIdentificationSequence",
    // patient demographics (Patient Identification / Demographic modules)
    "PatientBirthName",
    "PatientMotherBirthName",
    "MedicalRecordLocator",
    "PatientAddress",
    "CountryOfResidence",
    "RegionOfResidence",
    "PatientTelephoneNumbers",
    "PatientTelecomInformation",
    "PatientReligiousPreference",
    "MilitaryRank",
    "BranchOfService",
    "PatientInsurancePlanCodeSequence",
    "PatientPrimaryLanguageCodeSequence",
    "PatientPrimaryLanguageModifierCodeSequence",
    // Clinical Trial Subject module (C.7.1.3)
    "ClinicalTrialSponsorName",
    "ClinicalTrialProtocolID",
    "ClinicalTrialProtocolName",
    "ClinicalTrialSiteID",
    "ClinicalTrialSiteName",
    "ClinicalTrialSubjectID",
    "ClinicalTrialSubjectReadingID",
    "ClinicalTrialProtocolEthicsCommitteeName",
    "ClinicalTrialProtocolEthicsCommitteeApprovalNumber",
    "IssuerOfClinicalTrialProtocolID",
    "OtherClinicalTrialProtocolIDsSequence",
    "IssuerOfClinicalTrialSiteID",
    "IssuerOfClinicalTrialSubjectID",
    "IssuerOfClinicalTrialSubjectReadingID",
    "EthicsCommitteeApprovalEffectivenessStartDate",
    "EthicsCommitteeApprovalEffectivenessEndDate",
];

/// Study-level keywords.
pub const STUDY_KEYWORDS: &[&str] = &[
    // ---- General Study module (C.7.2.1) ----
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "ReferringPhysicianIdentificationSequence",
    "ConsultingPhysicianName",
    "ConsultingPhysicianIdentificationSequence",
    "StudyID",
    "AccessionNumber",
    "IssuerOfAccessionNumberSequence",
    "StudyDescription",
    "PhysiciansOfRecord",
    "PhysiciansOfRecordIdentificationSequence",
    "NameOfPhysiciansReadingStudy",
    "PhysiciansReadingStudyIdentificationSequence",
    "RequestingServiceCodeSequence",
    "ReferencedStudySequence",
    "ProcedureCodeSequence",
    "ReasonForPerformedProcedureCodeSequence",
    "StudyPriorityID",
    "StudyStatusID",
    // Patient Study module (C.7.2.2)
    "AdmittingDiagnosesDescription",
    "AdmittingDiagnosesCodeSequence",
    "PrincipalDiagnosisCodeSequence",
    "PrimaryDiagnosisCodeSequence",
    "SecondaryDiagnosesCodeSequence",
    "HistologicalDiagnosesCodeSequence",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "PatientBodyMassIndex",
    "MeasuredAPDimension",
    "MeasuredLateralDimension",
    "PatientSizeCodeSequence",
    "MedicalAlerts",
    "Allergies",
    "SmokingStatus",
    "PregnancyStatus",
    "LastMenstrualDate",
    "PatientState",
    "Occupation",
    "AdditionalPatientHistory",
    "AdmissionID",
    "IssuerOfAdmissionIDSequence",
    "ServiceEpisodeID",
    "IssuerOfServiceEpisodeIDSequence",
    "ServiceEpisodeDescription",
    "PatientSexNeutered",
    "ReasonForVisit",
    "ReasonForVisitCodeSequence",
    "GenderIdentitySequence",
    "SexParametersForClinicalUseCategorySequence",
    "PersonNamesToUseSequence",
    // Clinical Trial Study module (C.7.2.3)
    "ClinicalTrialTimePointID",
    "ClinicalTrialTimePointDescription",
    "ClinicalTrialTimePointTypeCodeSequence",
    "IssuerOfClinicalTrialTimePointID",
    "LongitudinalTemporalOffsetFromEvent",
    "LongitudinalTemporalEventType",
    "ConsentForClinicalTrialUseSequence",
];

/// Series-level keywords.
pub const SERIES_KEYWORDS: &[&str] = &[
    // ---- General Series module (C.7.3.1) ----
    "Modality",
    "SeriesInstanceUID",
    "SeriesNumber",
    "Laterality",
    "SeriesDate",
    "SeriesTime",
    "PerformingPhysicianName",
    "PerformingPhysicianIdentificationSequence",
    "ProtocolName",
    "SeriesDescription",
    "SeriesDescriptionCodeSequence",
    "OperatorsName",
    "OperatorIdentificationSequence",
    "ReferencedPerformedProcedureStepSequence",
    "RelatedSeriesSequence",
    "BodyPartExamined",
    "PatientPosition",
    "SmallestPixelValueInSeries",
    "LargestPixelValueInSeries",
    "RequestAttributesSequence",
    "PerformedProcedureStepID",
    "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime",
    "PerformedProcedureStepEndDate",
    "PerformedProcedureStepEndTime",
    "PerformedProcedureStepDescription",
    "PerformedProtocolCodeSequence",
    "CommentsOnThePerformedProcedureStep",
    "AnatomicalOrientationType",
    "TreatmentSessionUID",
    // Clinical Trial Series module (C.7.3.2)
    "ClinicalTrialCoordinatingCenterName",
    "ClinicalTrialSeriesID",
    "ClinicalTrialSeriesDescription",
    "IssuerOfClinicalTrialSeriesID",
    // Frame of Reference module (C.7.4.1)
    "FrameOfReferenceUID",
    "PositionReferenceIndicator",
    // General Equipment module (C.7.5.1)
    "Manufacturer",
    "InstitutionName",
    "InstitutionAddress",
    "StationName",
    "InstitutionalDepartmentName",
    "InstitutionalDepartmentTypeCodeSequence",
    "ManufacturerModelName",
    "ManufacturerDeviceClassUID",
    "DeviceSerialNumber",
    "DeviceUID",
    "UDISequence",
    "SoftwareVersions",
    "GantryID",
    "SpatialResolution",
    "DateOfLastCalibration",
    "TimeOfLastCalibration",
    "DateOfManufacture",
    "DateOfInstallation",
    "PixelPaddingValue",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_of_keywords_and_tags() {
        // Unknown keywords, private tags and the file meta group are Instance level.
        let expected: [(Level, &[&str]); 4] = [
            (
                Level::Patient,
                &[
                    "PatientName",
                    "PatientID",
                    "IssuerOfPatientID",
                    "TypeOfPatientID",
                    "OtherPatientIDsSequence",
                    "PatientBirthDate",
                    "PatientBirthTime",
                    "PatientSex",
                    "PatientComments",
                    "EthnicGroup",
                    "PatientIdentityRemoved",
                    "DeidentificationMethod",
                    "DeidentificationMethodCodeSequence",
                    "ClinicalTrialSubjectID",
                ],
            ),
            (
                Level::Study,
                &[
                    "StudyInstanceUID",
                    "StudyDate",
                    "StudyTime",
                    "ReferringPhysicianName",
                    "StudyID",
                    "AccessionNumber",
                    "StudyDescription",
                    "PatientAge",
                    "PatientSize",
                    "PatientWeight",
                    "AdditionalPatientHistory",
                ],
            ),
            (
                Level::Series,
                &[
                    "Modality",
                    "SeriesInstanceUID",
                    "SeriesNumber",
                    "SeriesDate",
                    "SeriesTime",
                    "SeriesDescription",
                    "BodyPartExamined",
                    "ProtocolName",
                    "PatientPosition",
                    "Laterality",
                    "FrameOfReferenceUID",
                    "PositionReferenceIndicator",
                    "Manufacturer",
                    "ManufacturerModelName",
                    "DeviceSerialNumber",
                    "SoftwareVersions",
                    "StationName",
                    "InstitutionName",
                ],
            ),
            (
                Level::Instance,
                &[
                    "SOPInstanceUID",
                    "SOPClassUID",
                    "ImageType",
                    "InstanceNumber",
                    "Rows",
                    "Columns",
                    "PixelSpacing",
                    "ImagePositionPatient",
                    "SliceLocation",
                    "WindowCenter",
                    "TransferSyntaxUID",
                    "FileMetaInformationVersion",
                    "MediaStorageSOPInstanceUID",
                    "SpecificCharacterSet",
                    "AcquisitionDate",
                    "ContentTime",
                    "NoSuchKeyword",
                    "",
                    "00091001",
                    "00090010",
                    "7FE00010",
                ],
            ),
        ];
        for (level, keys) in expected {
            for k in keys {
                assert_eq!(level_of(k), level, "{k:?}");
            }
        }
    }

    #[test]
    fn tags_are_accepted_like_keywords() {
        assert_eq!(level_of("00100010"), Level::Patient);
        assert_eq!(level_of("(0010,0020)"), Level::Patient);
        assert_eq!(level_of("0020,000D"), Level::Study);
        assert_eq!(level_of("0020000d"), Level::Study);
        assert_eq!(level_of("00080060"), Level::Series);
        assert_eq!(level_of("00020010"), Level::Instance);
        assert_eq!(level_of_tag(Tag(0x0008, 0x0070)), Level::Series);
        assert_eq!(level_of_tag(Tag(0x0029, 0x1010)), Level::Instance);
        assert_eq!(Level::Series.as_str(), "Series");
    }

    #[test]
    fn every_listed_keyword_is_a_standard_keyword() {
        for k in keywords() {
            let entry = StandardDataDictionary.by_name(k);
            assert!(entry.is_some(), "{k} is not in the standard dictionary");
            // and the tag form agrees with the keyword form
            let tag = entry.unwrap().tag();
            assert_eq!(level_of_tag(tag), level_of(k), "{k}");
        }
        let total = keywords().count();
        let mut all: Vec<&str> = keywords().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), total, "a keyword is listed at two levels");
    }
}
