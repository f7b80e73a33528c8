//! A tool's arguments checked against its input schema before anything runs: an unknown
//! argument is refused (never dropped: a misspelled `dryRun` must not run a delete for real)
//! and named with the parameter it most likely meant; a missing required one, a value of the
//! wrong type and an integer out of range are reported together, in one message. Values a
//! caller sent are echoed only as a short prefix. Shapes of strings (IDs, ARNs, ...) are the
//! engine's to check, with the model's wording.

use serde_json::{Map, Number, Value};

use crate::dicom::values::shown;
use crate::engine::{EngineError, ErrorType};

/// Argument problems listed in one message; the rest are counted.
const PROBLEMS_SHOWN: usize = 5;
/// Longest detail of one problem (a deserializer's message may quote a value).
const DETAIL_LIMIT: usize = 200;

/// `dryRun`, `dry-run`, `DryRun`, `dry run` → `dry_run`.
pub fn snake_case(name: &str) -> String {
    let mut out = String::new();
    let mut prev: Option<char> = None;
    for c in name.trim().chars() {
        if c == '-' || c == '.' || c.is_whitespace() {
            if !out.ends_with('_') {
                out.push('_');
            }
        } else {
            if c.is_uppercase() && prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit()) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        }
        prev = Some(c);
    }
    out
}

/// Characters the two strings share, as Python's difflib counts them: the longest common
/// block, then recursively the blocks left and right of it.
fn matching(a: &[char], b: &[char]) -> usize {
    let (mut best, mut best_i, mut best_j) = (0, 0, 0);
    for i in 0..a.len() {
        for j in 0..b.len() {
            let k = a[i..]
                .iter()
                .zip(&b[j..])
                .take_while(|(x, y)| x == y)
                .count();
            if k > best {
                (best, best_i, best_j) = (k, i, j);
            }
        }
    }
    if best == 0 {
        return 0;
    }
    best + matching(&a[..best_i], &b[..best_j]) + matching(&a[best_i + best..], &b[best_j + best..])
}

/// Similarity from 0 to 1 (difflib's `ratio`).
fn ratio(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    2.0 * matching(&a, &b) as f64 / (a.len() + b.len()) as f64
}

/// The known parameter `name` most likely meant, if one is close enough.
pub fn suggestion<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let normal = snake_case(name);
    if let Some(k) = known.iter().find(|k| **k == normal) {
        return Some(k);
    }
    let mut sorted = known.to_vec();
    sorted.sort_unstable();
    let mut best: Option<(f64, &str)> = None;
    for k in sorted {
        let r = ratio(&normal, k);
        if r >= 0.6 && best.is_none_or(|(b, _)| r > b) {
            best = Some((r, k));
        }
    }
    best.map(|(_, k)| k)
}

pub fn unknown_argument(name: &str, known: &[&str]) -> String {
    let message = format!("unknown argument {}", shown(name));
    match suggestion(name, known) {
        Some(guess) => format!("{message}; did you mean '{guess}'?"),
        None => {
            let mut sorted = known.to_vec();
            sorted.sort_unstable();
            format!("{message}; known: {}", sorted.join(", "))
        }
    }
}

fn cut(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// One message for every problem of a tool's arguments.
pub fn invalid(tool: &str, problems: &[String]) -> EngineError {
    let shown: Vec<String> = problems
        .iter()
        .take(PROBLEMS_SHOWN)
        .map(|p| cut(p, DETAIL_LIMIT))
        .collect();
    let more = problems.len().saturating_sub(PROBLEMS_SHOWN);
    let tail = if more > 0 {
        format!(" (and {more} more)")
    } else {
        String::new()
    };
    EngineError::new(
        ErrorType::Validation,
        format!("Invalid arguments for {tool}: {}{tail}", shown.join("; ")),
    )
}

/// A number that is an integer, as JSON gives it (integers beyond 64 bits arrive as floats).
fn integral(n: &Number) -> Option<f64> {
    if n.is_i64() || n.is_u64() {
        return n.as_f64();
    }
    n.as_f64().filter(|f| f.fract() == 0.0 && f.is_finite())
}

/// Checks `value` against one property schema (`type`, integer bounds, map values and list
/// items), normalising what a lenient client sends ("5" for 5, "true" for true). Problems are
/// pushed under `at`.
fn check_value(at: &str, schema: &Value, value: Value, problems: &mut Vec<String>) -> Value {
    let kind = schema.get("type").and_then(Value::as_str).unwrap_or("");
    let mut bad = |what: &str| problems.push(format!("{at}: Input should be {what}"));
    match (kind, value) {
        ("string", Value::String(s)) => Value::String(s),
        ("string", _) => {
            bad("a valid string");
            Value::Null
        }
        ("boolean", Value::Bool(b)) => Value::Bool(b),
        ("boolean", Value::String(s))
            if matches!(s.to_ascii_lowercase().as_str(), "true" | "false") =>
        {
            Value::Bool(s.eq_ignore_ascii_case("true"))
        }
        ("boolean", _) => {
            bad("a valid boolean");
            Value::Null
        }
        ("integer", v) => {
            let n = match &v {
                Value::Number(n) => integral(n),
                Value::String(s)
                    if !s.is_empty()
                        && s.trim_start_matches('-')
                            .bytes()
                            .all(|b| b.is_ascii_digit()) =>
                {
                    s.parse::<f64>().ok()
                }
                _ => None,
            };
            let Some(n) = n else {
                bad("a valid integer");
                return Value::Null;
            };
            let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
            if let Some(min) = bound("minimum").filter(|m| n < *m) {
                bad(&format!("greater than or equal to {min}"));
            } else if let Some(max) = bound("maximum").filter(|m| n > *m) {
                bad(&format!("less than or equal to {max}"));
            } else if n < i64::MIN as f64 || n > i64::MAX as f64 {
                bad("an integer of at most 64 bits");
            }
            // In range (or already reported): a plain integer for the deserializer.
            Value::from(n.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
        }
        ("object", Value::Object(map)) => {
            let values = schema.get("additionalProperties").filter(|v| v.is_object());
            match values {
                Some(values) => Value::Object(
                    map.into_iter()
                        .map(|(k, v)| {
                            let inner = format!("{at}.{}", shown(&k));
                            let v = check_value(&inner, values, v, problems);
                            (k, v)
                        })
                        .collect(),
                ),
                None => Value::Object(map),
            }
        }
        ("object", _) => {
            bad("a valid dictionary");
            Value::Null
        }
        ("array", Value::Array(items)) => match schema.get("items") {
            Some(item) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| check_value(&format!("{at}.{i}"), item, v, problems))
                    .collect(),
            ),
            None => Value::Array(items),
        },
        ("array", _) => {
            bad("a valid list");
            Value::Null
        }
        (_, v) => v,
    }
}

/// The arguments of `tool` checked against its input `schema`: unknown, missing and mistyped
/// ones refused together; `null` for an optional argument means absent. Returns the
/// normalised arguments for the input type's deserializer.
pub fn check(tool: &str, schema: &Value, args: Value) -> Result<Value, EngineError> {
    let args = match args {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => return Err(invalid(tool, &["arguments must be an object".into()])),
    };
    let empty = Map::new();
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let known: Vec<&str> = props.keys().map(String::as_str).collect();
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut problems = Vec::new();
    let mut out = Map::new();
    for (name, value) in args {
        match props.get(&name) {
            None => problems.push(unknown_argument(&name, &known)),
            Some(_) if value.is_null() && !required.contains(&name.as_str()) => {}
            Some(prop) => {
                let v = check_value(&name, prop, value, &mut problems);
                out.insert(name, v);
            }
        }
    }
    for name in &required {
        if !out.contains_key(*name) && !problems.iter().any(|p| p.starts_with(&format!("{name}:")))
        {
            problems.push(format!("{name}: Field required"));
        }
    }
    if problems.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(invalid(tool, &problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DELETE_PATIENT: &[&str] = &["datastore_id", "patient_id", "dry_run"];
    const SEARCH: &[&str] = &[
        "datastore_id",
        "search_criteria",
        "next_token",
        "max_results",
    ];

    /// The spellings clients send, and the parameter each meant.
    #[test]
    fn suggestions() {
        let table: &[(&str, &[&str], Option<&str>)] = &[
            ("dryRun", DELETE_PATIENT, Some("dry_run")),
            ("dry-run", DELETE_PATIENT, Some("dry_run")),
            ("DryRun", DELETE_PATIENT, Some("dry_run")),
            ("DRY_RUN", DELETE_PATIENT, Some("dry_run")),
            ("dry run", DELETE_PATIENT, Some("dry_run")),
            ("dryrun", DELETE_PATIENT, Some("dry_run")),
            ("patientID", DELETE_PATIENT, Some("patient_id")),
            ("DatastoreId", DELETE_PATIENT, Some("datastore_id")),
            ("searchCriteria", SEARCH, Some("search_criteria")),
            ("maxResult", SEARCH, Some("max_results")),
            ("nextToken", SEARCH, Some("next_token")),
            ("force", DELETE_PATIENT, None),
            ("zzz", SEARCH, None),
        ];
        for (given, known, meant) in table {
            assert_eq!(suggestion(given, known), *meant, "{given}");
        }
    }

    #[test]
    fn messages() {
        assert_eq!(snake_case("maxDeletions"), "max_deletions");
        assert_eq!(
            unknown_argument("maxDeletions", &["criteria", "max_deletions"]),
            "unknown argument 'maxDeletions'; did you mean 'max_deletions'?"
        );
        assert_eq!(
            unknown_argument("zzz", &["b", "a"]),
            "unknown argument 'zzz'; known: a, b"
        );
        let huge = "y".repeat(1_000_000);
        assert!(unknown_argument(&huge, &["a"]).contains("(1000000 characters)"));
    }

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "datastore_id": {"type": "string"},
                "max_results": {"type": "integer", "minimum": 1, "maximum": 50},
                "dry_run": {"type": "boolean"},
                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["datastore_id"],
            "additionalProperties": false,
        })
    }

    #[test]
    fn every_problem_in_one_message() {
        let e = check(
            "t",
            &schema(),
            json!({"dryRun": true, "max_results": 51, "tags": {"a": 1}}),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorType::Validation);
        let m = e.message;
        assert!(m.starts_with("Invalid arguments for t: "), "{m}");
        assert!(
            m.contains("unknown argument 'dryRun'; did you mean 'dry_run'?"),
            "{m}"
        );
        assert!(
            m.contains("max_results: Input should be less than or equal to 50"),
            "{m}"
        );
        assert!(
            m.contains("tags.'a': Input should be a valid string"),
            "{m}"
        );
        assert!(m.contains("datastore_id: Field required"), "{m}");
    }

    #[test]
    fn integers_beyond_64_bits_and_lenient_forms() {
        for (v, want) in [
            (json!(0), "greater than or equal to 1"),
            (
                json!(18446744073709551616.0_f64),
                "less than or equal to 50",
            ),
            (json!("9".repeat(100_000)), "less than or equal to 50"),
            (json!("lots"), "a valid integer"),
            (json!(2.5), "a valid integer"),
        ] {
            let e = check(
                "t",
                &schema(),
                json!({"datastore_id": "x", "max_results": v}),
            )
            .unwrap_err()
            .message;
            assert!(
                e.contains(&format!("max_results: Input should be {want}")),
                "{e}"
            );
            assert!(e.len() < 300, "{e}");
        }
        let ok = check(
            "t",
            &schema(),
            json!({"datastore_id": "x", "max_results": "5", "dry_run": "true", "tags": null}),
        )
        .unwrap();
        assert_eq!(
            ok,
            json!({"datastore_id": "x", "max_results": 5, "dry_run": true})
        );
        assert_eq!(
            check(
                "t",
                &schema(),
                json!({"datastore_id": "x", "max_results": 7.0})
            )
            .unwrap(),
            json!({"datastore_id": "x", "max_results": 7})
        );
    }
}
