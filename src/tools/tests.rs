//! The registry: every tool declared once and complete, every input schema closed and carrying
//! the model's constraints, the original 0.1.1 parameters kept, every handler wired.

use serde_json::{json, Value};

use super::schema::pattern;
use super::*;
use crate::model::constraints::{self, rule, Shape};

fn tool(name: &str) -> &'static Tool {
    registry()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not registered"))
}

fn prop(tool_name: &str, param: &str) -> Value {
    tool(tool_name).input_schema["properties"][param].clone()
}

#[test]
fn names_are_unique_and_toolsets_split_api_and_workflows() {
    let tools = registry().tools();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), tools.len());
    let count = |set| tools.iter().filter(|t| t.toolset == set).count();
    assert_eq!((count(Toolset::Api), count(Toolset::Workflows)), (18, 18));
    for t in tools {
        assert!(!t.description.is_empty(), "{}", t.name);
        // Concise: details belong in the schemas.
        assert!(t.description.len() <= 400, "{}: {}", t.name, t.description);
        assert_eq!(t.hints.read_only, !t.hints.destructive && t.hints.read_only);
    }
}

#[test]
fn every_input_schema_is_a_closed_object_with_typed_properties() {
    for t in registry().tools() {
        let s = &t.input_schema;
        assert_eq!(s["type"], "object", "{}", t.name);
        assert_eq!(s["additionalProperties"], json!(false), "{}", t.name);
        let props = s["properties"].as_object().unwrap();
        assert!(!props.is_empty(), "{}", t.name);
        for (name, p) in props {
            let kind = p["type"].as_str();
            assert!(
                matches!(
                    kind,
                    Some("string" | "integer" | "number" | "boolean" | "object" | "array")
                ),
                "{}.{name}: {p}",
                t.name
            );
            // Every ID, UID, ARN, URI and token carries its model shape.
            let shaped = ["_id", "_uid", "_arn", "_uri", "_token", "_name"];
            if kind == Some("string")
                && shaped.iter().any(|s| name.ends_with(s))
                && name != "version_id"
            {
                assert!(
                    p.get("maxLength").is_some() || p.get("pattern").is_some(),
                    "{}.{name}: {p}",
                    t.name
                );
            }
            if kind == Some("integer") {
                assert!(
                    p.get("minimum").is_some() && p.get("maximum").is_some(),
                    "{}.{name}",
                    t.name
                );
            }
        }
    }
}

#[test]
fn constraints_come_from_the_service_model() {
    let id = prop("get_datastore", "datastore_id");
    assert_eq!(
        id["pattern"],
        json!(pattern(rule(Shape::ResourceId).pattern.unwrap()))
    );
    let name = prop("create_datastore", "datastore_name");
    assert_eq!(
        (name["minLength"].clone(), name["maxLength"].clone()),
        (json!(1), json!(256))
    );
    let max = prop("list_datastores", "max_results");
    assert_eq!(
        (max["minimum"].clone(), max["maximum"].clone()),
        (
            json!(constraints::MAX_RESULTS.start()),
            json!(constraints::MAX_RESULTS.end())
        )
    );
    assert_eq!(
        prop("list_datastores", "datastore_status")["enum"],
        json!(constraints::DATASTORE_STATUS)
    );
    assert_eq!(
        prop("list_dicom_import_jobs", "job_status")["enum"],
        json!(constraints::JOB_STATUS)
    );
    assert_eq!(
        prop("create_datastore", "lossless_storage_format")["enum"],
        json!(constraints::LOSSLESS_STORAGE_FORMAT)
    );
    let keys = prop("untag_resource", "tag_keys");
    assert_eq!(keys["maxItems"], json!(constraints::TAG_KEYS.end()));
    assert_eq!(keys["items"]["maxLength"], json!(128));
    let tags = prop("tag_resource", "tags");
    assert_eq!(tags["additionalProperties"]["type"], "string");
    assert_eq!(
        tags["propertyNames"]["pattern"],
        json!(pattern(rule(Shape::TagKey).pattern.unwrap()))
    );
    assert_eq!(
        prop("search_by_patient_id", "max_results")["maximum"],
        json!(10_000)
    );
    assert_eq!(
        prop("bulk_delete_by_criteria", "max_deletions")["maximum"],
        json!(1000)
    );
    assert_eq!(prop("start_dicom_import_job", "role_arn"), Value::Null);
    assert!(
        prop("start_dicom_import_job", "data_access_role_arn")["pattern"]
            .as_str()
            .unwrap()
            .contains(":iam::")
    );
    // Descriptions come from the doc comments of the input types.
    assert!(prop("delete_patient_studies", "dry_run")["description"]
        .as_str()
        .unwrap()
        .contains("change nothing"));
}

#[test]
fn the_original_parameters_are_all_kept() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tools-v0.1.1.json"
    );
    let original: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut checked = 0;
    for t in original["tools"].as_array().unwrap() {
        let name = t["tool"].as_str().unwrap();
        let schema = &tool(name).input_schema;
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for p in t["params"].as_array().unwrap() {
            let param = p["name"].as_str().unwrap();
            assert!(
                schema["properties"].get(param).is_some(),
                "{name}.{param} missing"
            );
            assert_eq!(
                required.contains(&param),
                p["required"] == true,
                "{name}.{param} required-ness"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 39);
}

#[test]
fn output_schemas_are_objects_or_absent() {
    for t in registry().tools() {
        if let Some(s) = &t.output_schema {
            assert_eq!(s["type"], "object", "{}", t.name);
        }
    }
}

/// A value of the property's type that no model shape accepts as an ID (so the engine refuses
/// it before any request).
fn bad_value(p: &Value) -> Value {
    match p["type"].as_str() {
        Some("string") => json!("not valid!"),
        Some("integer") => p["minimum"].clone(),
        Some("boolean") => json!(true),
        Some("array") => json!(["k"]),
        _ => json!({}),
    }
}

/// Every tool reaches its engine function: with each required argument present but invalid,
/// the answer is the engine's own validation error (it names the parameter with "Invalid
/// parameter"), not the registry's.
#[tokio::test]
async fn every_tool_runs_its_handler() {
    for t in registry().tools() {
        let mut args = serde_json::Map::new();
        for r in t.input_schema["required"].as_array().into_iter().flatten() {
            let name = r.as_str().unwrap();
            args.insert(name.into(), bad_value(&t.input_schema["properties"][name]));
        }
        if args.is_empty() {
            args.insert("next_token".into(), json!("")); // list_datastores requires nothing
        }
        let e = call(t.name, &Value::Object(args).to_string(), Ctx::default())
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorType::Validation, "{}: {}", t.name, e.message);
        assert!(
            e.message.starts_with("Invalid parameter '"),
            "{}: {}",
            t.name,
            e.message
        );
    }
}

#[tokio::test]
async fn arguments_are_checked_before_the_handler() {
    let e = call(
        "delete_study",
        r#"{"datastore_id": "x", "zzz": 1}"#,
        Ctx::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorType::Validation);
    assert!(
        e.message
            .contains("unknown argument 'zzz'; known: datastore_id, dry_run, study_instance_uid"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("study_instance_uid: Field required"),
        "{}",
        e.message
    );
    let e = call("nope", "{}", Ctx::default()).await.unwrap_err();
    assert_eq!(e.message, "Unknown tool: 'nope'");
    let e = call("get_datastore", "{not json", Ctx::default())
        .await
        .unwrap_err();
    assert!(
        e.message.contains("arguments are not JSON"),
        "{}",
        e.message
    );
    // A map value of the wrong type is found by the schema check, named by its key.
    let e = call(
        "tag_resource",
        r#"{"resource_arn": "a", "tags": {"k": 1}}"#,
        Ctx::default(),
    )
    .await
    .unwrap_err();
    assert!(
        e.message
            .contains("tags.'k': Input should be a valid string"),
        "{}",
        e.message
    );
}

#[test]
fn only_the_metadata_document_is_untyped() {
    let untyped: Vec<&str> = registry()
        .tools()
        .iter()
        .filter(|t| t.output_schema.is_none())
        .map(|t| t.name)
        .collect();
    assert_eq!(untyped, ["get_image_set_metadata"]);
    assert!(
        !registry().get("get_image_set_metadata").unwrap().describe()["outputSchema"].is_object()
    );
}
