//! The server instructions an MCP client shows its model: which tools to prefer, and how
//! errors, dry runs, progress and cancellation work. Only the toolsets a server serves are
//! described.

use super::Toolset;

const INTRO: &str = "AWS HealthImaging: medical images (DICOM) stored as image sets in data stores. \
Find data stores with list_datastores (also the resource healthimaging://datastores); every other tool needs a datastore_id.\n";

const WORKFLOWS: &str = "\
Patient, study and series work: prefer the workflow tools. They read every page, answer compactly and, for changes, \
act on every image set involved (each write against the current version, retried on conflict, then confirmed; \
throttling slows a run down instead of failing items; running one again after an interruption is safe).
- Find: search_by_patient_id, search_by_study_uid, search_by_series_uid, get_patient_studies, get_patient_series, \
get_study_primary_image_sets, get_series_primary_image_set, get_patient_dicomweb_studies.
- Change: delete_patient_studies, delete_study, delete_series_by_uid, delete_instance_in_study, delete_instance_in_series, \
remove_series_from_image_set, remove_instance_from_image_set, update_patient_study_metadata, bulk_update_patient_metadata, \
bulk_delete_by_criteria. Run with dry_run=true first: it reports exactly what would change and changes nothing. \
Long runs send progress notifications (pass a progressToken); cancelling the request stops the run before its next \
image set (writes already sent may finish). A report whose every item failed is an error result.\n";

const API: &str = "\
Single API operations: search_image_sets (one page, at most 2 filters, follow next_token), get_image_set, \
get_image_set_metadata (DICOM metadata as JSON with frame IDs), get_image_frame, list_image_set_versions; \
update_image_set_metadata and copy_image_set need the current latest_version_id (on conflict_error read the image \
set again). Deletes cannot be undone. Imports: start_dicom_import_job, then poll get_dicom_import_job.\n";

const DICOMWEB: &str = "\
DICOMweb: search_dicom_studies, search_dicom_series, search_dicom_instances (QIDO-RS; primary image sets only; \
a table of rows, include_dicom_json=true adds the DICOM JSON; limit/offset reach the first 10,000 records), \
get_dicom_series_metadata, get_dicom_instance_metadata (DICOM JSON; image_set_id for non-primary data), \
retrieve_dicom_instances (a study, series or instance as .dcm files in a local folder; transfer_syntax \
explicit_vr_little_endian for tools that cannot read HTJ2K), store_dicom_files (upload local DICOM files or folders). \
Local paths must be inside the server's allowed file roots (--file-root; default its working directory).\n";
const PIXELS: &str = "\
Looking at images: get_image_set_summary answers patient, study and per-series counts, geometry and syntaxes in \
under 2 KB (read it before the full metadata; get_image_set_metadata takes series_instance_uid, sop_instance_uid \
or include_instances=false to answer in part). render_series_contact_sheet shows a whole series in one image \
(evenly spaced slices, labelled); render_image_frame shows one frame (slice=\"middle\", a window_preset such as \
lung or soft_tissue for CT). Images come as image content after the JSON.\n";

const EXPORT: &str = "\
Export: start_dicom_export_job copies a study, series, instance or a created-at window as .dcm files to \
s3://bucket/prefix/ or file:///folder (stored syntax, or transfer_syntax explicit_vr_little_endian), with \
manifest.jsonl and summary.json there; it answers at once: follow get_dicom_export_job until COMPLETED, FAILED or \
CANCELLED (failed instances carry their reason); list_dicom_export_jobs filters by job_status.\n";

const JOBS: &str = "\
Jobs: work that outlives a call. A change workflow still running at its deadline (default 45 s) answers \
{job_id, status: IN_PROGRESS, progress, eta_seconds} and keeps going; follow it with get_job (progress, ETA, counts, \
item outcomes with failed ones first) until COMPLETED, FAILED, CANCELLED or INTERRUPTED (the server stopped; \
run the tool again to act on what is left). list_jobs finds jobs by status, kind and data store; cancel_job stops a \
job before its next item and answers what it did.\n";

const ERRORS: &str = "\
Errors are JSON {\"error\": true, \"type\": validation_error | not_found | auth_error | conflict_error | \
throttling_error | service_error | server_error, \"message\": ...}. A validation_error is sent before any request: \
fix the argument it names (unknown arguments are refused, with the likely meant name).";

/// The instructions for a server serving `toolsets`.
pub fn instructions(toolsets: &[Toolset]) -> String {
    let mut out = String::from(INTRO);
    if toolsets.contains(&Toolset::Workflows) {
        out.push_str(WORKFLOWS);
    }
    if toolsets.contains(&Toolset::Api) {
        out.push_str(API);
    }
    if toolsets.contains(&Toolset::Pixels) {
        out.push_str(PIXELS);
    }
    if toolsets.contains(&Toolset::Dicomweb) {
        out.push_str(DICOMWEB);
    }
    if toolsets.contains(&Toolset::Export) {
        out.push_str(EXPORT);
    }
    if toolsets.contains(&Toolset::Jobs) {
        out.push_str(JOBS);
    }
    out.push_str(ERRORS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pixels_paragraph_only_with_the_pixels_toolset() {
        let text = instructions(&[Toolset::Pixels]);
        assert!(
            text.contains("get_image_set_summary") && text.contains("render_series_contact_sheet")
        );
        assert!(
            !instructions(&[Toolset::Api, Toolset::Workflows]).contains("get_image_set_summary")
        );
    }

    #[test]
    fn the_jobs_paragraph_only_with_the_jobs_toolset() {
        assert!(instructions(&[Toolset::Jobs]).contains("get_job"));
        assert!(!instructions(&[Toolset::Workflows]).contains("get_job"));
    }
}
