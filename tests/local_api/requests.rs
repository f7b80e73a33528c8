//! How each operation reads its request: members of the wrong JSON type, missing members,
//! malformed bodies and query parameters, all through raw signed requests (the SDK cannot send
//! most of these). Pins the status, error type and message of every case, and that unknown
//! members are ignored as AWS's rest-json services ignore them.

use crate::common::*;

const DS: &str = "0123456789abcdef0123456789abcdef";
const IS: &str = "fedcba9876543210fedcba9876543210";

/// Not-null message of a required member.
fn null_at(member: &str) -> String {
    format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    )
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

struct Case {
    method: &'static str,
    path: String,
    body: String,
    status: u16,
    code: &'static str,
    /// The whole message, or its start when it ends with `…`.
    message: String,
}

fn case(method: &'static str, path: &str, body: &str, status: u16, code: &'static str) -> Case {
    Case {
        method,
        path: path.to_string(),
        body: body.to_string(),
        status,
        code,
        message: String::new(),
    }
}

impl Case {
    fn says(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
}

const SER: &str = "SerializationException";
const VAL: &str = "ValidationException";

fn image_set(op: &str, query: &str) -> String {
    format!("/datastore/{DS}/imageSet/{IS}/{op}{query}")
}

fn cases() -> Vec<Case> {
    let import = format!("/startDICOMImportJob/datastore/{DS}");
    let job = r#""dataAccessRoleArn": "arn:aws:iam::123456789012:role/R", "clientToken": "t1", "inputS3Uri": "s3://in-bucket/x/", "outputS3Uri": "s3://out-bucket/x/""#;
    let update = image_set("updateImageSetMetadata", "?latestVersion=1");
    let copy = image_set("copyImageSet", "");
    let tags = "/tags/arn%3Aaws%3Amedical-imaging%3Aus-east-1%3A123456789012%3Adatastore%2F0123456789abcdef0123456789abcdef";
    vec![
        // Bodies that are not a JSON object.
        case("POST", "/datastore", "{bad", 400, SER).says("Malformed JSON body: …"),
        case("POST", "/datastore", "[1]", 400, SER).says("Request body must be a JSON object"),
        // Members of the wrong JSON type.
        case("POST", "/datastore", r#"{"clientToken": "t", "datastoreName": 5}"#, 400, SER)
            .says("datastoreName must be a string"),
        case("POST", "/datastore", r#"{"clientToken": 7}"#, 400, SER)
            .says("clientToken must be a string"),
        // A JSON type mismatch is a SerializationException wherever the member sits, naming
        // its path (tags included: they used to answer ValidationException).
        case("POST", "/datastore", r#"{"clientToken": "t", "tags": {"k": 5}}"#, 400, SER)
            .says("tags.k must be a string"),
        case("POST", "/datastore", r#"{"clientToken": "t", "tags": ["k"]}"#, 400, SER)
            .says("tags must be a map"),
        case("POST", &copy, r#"{"sourceImageSet": {"latestVersionId": 1}}"#, 400, SER)
            .says("sourceImageSet.latestVersionId must be a string"),
        case("POST", &copy, r#"{"sourceImageSet": {"latestVersionId": "1", "DICOMCopies": {"copiableAttributes": {}}}}"#, 400, SER)
            .says("sourceImageSet.DICOMCopies.copiableAttributes must be a string"),
        // Missing and invalid members.
        case("POST", "/datastore", "{}", 400, VAL).says(null_at("clientToken")),
        case("POST", "/datastore", "", 400, VAL).says(null_at("clientToken")),
        case("POST", "/datastore", r#"{"clientToken": "t", "losslessStorageFormat": "PNG"}"#, 400, VAL)
            .says("1 validation error detected: Value 'PNG' at 'losslessStorageFormat' failed to satisfy constraint: Member must satisfy enum value set: [HTJ2K, JPEG_2000_LOSSLESS]"),
        case("POST", "/datastore", r#"{"clientToken": "t", "tags": {"aws:x": "y"}}"#, 400, VAL)
            .says("1 validation error detected: Value 'aws:x' at 'tags' failed to satisfy constraint: …"),
        // Query parameters.
        case("GET", "/datastore?datastoreStatus=NOPE", "", 400, VAL)
            .says("1 validation error detected: Value 'NOPE' at 'datastoreStatus' failed to satisfy constraint: Member must satisfy enum value set: [CREATING, CREATE_FAILED, ACTIVE, DELETING, DELETED]"),
        case("GET", "/datastore?maxResults=0", "", 400, VAL)
            .says("1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 50, inclusive"),
        case("GET", "/datastore?maxResults=x", "", 400, VAL)
            .says("1 validation error detected: Value 'x' at 'maxResults' failed to satisfy constraint: Member must be an integer"),
        case("GET", "/datastore?nextToken=abc", "", 400, VAL)
            .says("Invalid pagination token: …"),
        case("GET", &format!("/listDICOMImportJobs/datastore/{DS}?jobStatus=DONE"), "", 400, VAL)
            .says("1 validation error detected: Value 'DONE' at 'jobStatus' failed to satisfy constraint: Member must satisfy enum value set: [SUBMITTED, IN_PROGRESS, COMPLETED, FAILED]"),
        // Path parameters come first.
        case("GET", "/datastore/NOT-AN-ID", "", 400, VAL)
            .says("1 validation error detected: Value 'NOT-AN-ID' at 'datastoreId' failed to satisfy constraint: …"),
        case("POST", "/startDICOMImportJob/datastore/BAD", "{bad", 400, VAL)
            .says("1 validation error detected: Value 'BAD' at 'datastoreId' failed to satisfy constraint: …"),
        // StartDICOMImportJob.
        case("POST", &import, r#"{"clientToken": "t"}"#, 400, VAL).says(null_at("dataAccessRoleArn")),
        case("POST", &import, &format!(r#"{{{job}, "importConfiguration": {{"x": 1}}}}"#), 400, VAL)
            .says(r#"importConfiguration must be {"dicomJsonMetadataImportConfiguration": {"dicomMetadataMappings": [...]}}"#),
        case("POST", &import, &format!(r#"{{{job}, "importConfiguration": {{"dicomJsonMetadataImportConfiguration": {{"dicomMetadataMappings": []}}}}}}"#), 400, VAL)
            .says("dicomMetadataMappings must have 1 to 1000 items"),
        case("POST", &import, &format!(r#"{{{job}, "importConfiguration": {{"dicomJsonMetadataImportConfiguration": {{"dicomMetadataMappings": [{{"studyInstanceUID": "1.2"}}]}}}}}}"#), 400, VAL)
            .says("dicomMetadataMappings items need metadataFilePath"),
        // Tags.
        case("POST", tags, "{}", 400, VAL).says(null_at("tags")),
        case("DELETE", tags, "", 400, VAL).says(null_at("tagKeys")),
        case("DELETE", &format!("{tags}?tagKeys=aws%3Ax"), "", 400, VAL)
            .says("1 validation error detected: Value 'aws:x' at 'tagKeys' failed to satisfy constraint: …"),
        // GetImageFrame.
        case("POST", &image_set("getImageFrame", ""), "{}", 400, VAL).says(null_at("imageFrameId")),
        case("POST", &image_set("getImageFrame", ""), r#"{"imageFrameId": 7}"#, 400, SER)
            .says("imageFrameId must be a string"),
        case("POST", &image_set("getImageSet", "?version=x"), "", 400, VAL)
            .says("1 validation error detected: Value 'x' at 'versionId' failed to satisfy constraint: …"),
        // UpdateImageSetMetadata.
        case("POST", &image_set("updateImageSetMetadata", ""), r#"{"revertToVersionId": "1"}"#, 400, VAL)
            .says(null_at("latestVersionId")),
        case("POST", &image_set("updateImageSetMetadata", "?latestVersion=1&force=maybe"), "{}", 400, VAL)
            .says("1 validation error detected: Value 'maybe' at 'force' failed to satisfy constraint: Member must be a boolean"),
        case("POST", &update, "{}", 400, VAL)
            .says("updateImageSetMetadataUpdates must set DICOMUpdates or revertToVersionId"),
        case("POST", &update, r#"{"revertToVersionId": "1", "DICOMUpdates": {}}"#, 400, VAL)
            .says("Provide either DICOMUpdates or revertToVersionId, not both"),
        case("POST", &update, r#"{"DICOMUpdates": 5}"#, 400, SER)
            .says("DICOMUpdates must be an object"),
        case("POST", &update, r#"{"DICOMUpdates": {}}"#, 400, VAL)
            .says("DICOMUpdates must carry removableAttributes or updatableAttributes"),
        case("POST", &update, r#"{"DICOMUpdates": {"updatableAttributes": 1}}"#, 400, SER)
            .says("DICOMUpdates.updatableAttributes must be a base64 string"),
        case("POST", &update, r#"{"DICOMUpdates": {"updatableAttributes": "!!"}}"#, 400, SER)
            .says("DICOMUpdates.updatableAttributes is not valid base64"),
        case("POST", &update, &format!(r#"{{"DICOMUpdates": {{"removableAttributes": "{}"}}}}"#, b64("{nope")), 400, VAL)
            .says("DICOMUpdates.removableAttributes is not a JSON document: …"),
        case("POST", &update, r#"{"DICOMUpdates": {"updatableAttributes": ""}}"#, 400, VAL)
            .says("1 validation error detected: Value '0 bytes' at 'updateImageSetMetadataUpdates.DICOMUpdates.updatableAttributes' failed to satisfy constraint: Member must have length between 1 and 30000, inclusive"),
        case("POST", &update, r#"{"revertToVersionId": "v1"}"#, 400, VAL)
            .says("1 validation error detected: Value 'v1' at 'revertToVersionId' failed to satisfy constraint: …"),
        // CopyImageSet.
        case("POST", &copy, "{}", 400, VAL).says(null_at("copyImageSetInformation.sourceImageSet")),
        case("POST", &copy, r#"{"sourceImageSet": "x"}"#, 400, SER)
            .says("sourceImageSet must be an object"),
        case("POST", &copy, r#"{"sourceImageSet": {}}"#, 400, VAL).says(null_at("latestVersionId")),
        case("POST", &copy, r#"{"sourceImageSet": {"latestVersionId": "1", "DICOMCopies": {}}}"#, 400, VAL)
            .says("DICOMCopies.copiableAttributes is required"),
        case("POST", &copy, r#"{"sourceImageSet": {"latestVersionId": "1", "DICOMCopies": {"copiableAttributes": "{x"}}}"#, 400, VAL)
            .says("copiableAttributes is not a JSON document: …"),
        case("POST", &copy, r#"{"sourceImageSet": {"latestVersionId": "1", "DICOMCopies": {"copiableAttributes": ""}}}"#, 400, VAL)
            .says("copiableAttributes must have length between 1 and 260000"),
        case("POST", &copy, r#"{"sourceImageSet": {"latestVersionId": "1"}, "destinationImageSet": 3}"#, 400, SER)
            .says("destinationImageSet must be an object"),
        case("POST", &copy, r#"{"sourceImageSet": {"latestVersionId": "1"}, "destinationImageSet": {"latestVersionId": "1"}}"#, 400, VAL)
            .says(null_at("imageSetId")),
        case("POST", &image_set("copyImageSet", "?promoteToPrimary=yes"), "{}", 400, VAL)
            .says("1 validation error detected: Value 'yes' at 'promoteToPrimary' failed to satisfy constraint: Member must be a boolean"),
        // SearchImageSets.
        case("POST", &format!("/datastore/{DS}/searchImageSets?maxResults=51"), "{}", 400, VAL)
            .says("1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 50, inclusive"),
        case("POST", &format!("/datastore/{DS}/searchImageSets"), "[]", 400, SER)
            .says("Request body must be a JSON object"),
        // Well-formed requests get past parsing to the state (unknown members ignored).
        case("POST", &image_set("getImageFrame", ""), &format!(r#"{{"imageFrameId": "{IS}", "futureMember": [1]}}"#), 404, "ResourceNotFoundException"),
        case("POST", &copy, r#"{"sourceImageSet": {"latestVersionId": "1", "future": 1}, "future": {}}"#, 404, "ResourceNotFoundException"),
        case("POST", &update, &format!(r#"{{"DICOMUpdates": {{"updatableAttributes": "{}", "future": 1}}}}"#, b64("{}")), 404, "ResourceNotFoundException"),
        case("POST", &import, &format!(r#"{{{job}, "future": 1}}"#), 404, "ResourceNotFoundException"),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_reads_its_request_the_same_way() {
    let env = start();
    let mut wrong = Vec::new();
    for c in cases() {
        let got = tokio::task::block_in_place(|| raw_request(&env, c.method, &c.path, &c.body));
        let message_ok = match c.message.strip_suffix('…') {
            Some(start) => got.message.starts_with(start),
            None => c.message.is_empty() || got.message == c.message,
        };
        if (got.status, got.code.as_str()) != (c.status, c.code) || !message_ok {
            wrong.push(format!(
                "{} {} {}\n  want {} {} {:?}\n  got  {} {} {:?}",
                c.method,
                c.path,
                c.body,
                c.status,
                c.code,
                c.message,
                got.status,
                got.code,
                got.message
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_members_are_ignored_on_success() {
    let env = start();
    let got = tokio::task::block_in_place(|| {
        raw_request(
            &env,
            "POST",
            "/datastore",
            r#"{"clientToken": "t-1", "datastoreName": "x", "futureMember": {"a": [1]}, "tags": {"k": "v"}}"#,
        )
    });
    assert_eq!(
        (got.status, got.code.as_str()),
        (200, ""),
        "{}",
        got.message
    );
    let listed = env.client.list_datastores().send().await.unwrap();
    let ds = &listed.datastore_summaries()[0];
    assert_eq!(ds.datastore_name(), "x");
    let tags = list_tags(&env.client, ds.datastore_arn().unwrap())
        .await
        .unwrap();
    assert_eq!(tags.tags().get("k").map(String::as_str), Some("v"));
}
