//! JSON Schemas of tool inputs and outputs, derived from the Rust types, with the service
//! model's constraints (`model::constraints`) put in by field attributes:
//! `#[schemars(transform = shaped(Shape::ResourceId))]`. One source of truth: the same
//! constraints the engine checks before a request are the ones a client reads.

use std::ops::RangeInclusive;

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{json, Map, Value};

use crate::model::constraints::{self, Shape};

/// A model pattern (Java syntax, matched whole) as a JSON Schema pattern (ECMA-262, matched
/// anywhere): anchored, and `\p{ASCII}` spelled as a class every regex engine reads.
pub fn pattern(java: &str) -> String {
    format!("^(?:{})$", java.replace(r"\p{ASCII}", r"[\x00-\x7F]"))
}

/// The string schema keywords of a model shape: lengths and pattern.
fn shape_keywords(shape: Shape) -> Map<String, Value> {
    let rule = constraints::rule(shape);
    let mut out = Map::new();
    if let Some(min) = rule.min.filter(|m| *m > 0) {
        out.insert("minLength".into(), json!(min));
    }
    if let Some(max) = rule.max {
        out.insert("maxLength".into(), json!(max));
    }
    if let Some(p) = rule.pattern {
        out.insert("pattern".into(), json!(pattern(p)));
    }
    out
}

fn extend(schema: &mut Schema, keywords: Map<String, Value>) {
    if let Some(obj) = schema.as_object_mut() {
        obj.extend(keywords);
    }
}

/// A string field of a model shape.
pub fn shaped(shape: Shape) -> impl FnMut(&mut Schema) {
    move |schema| extend(schema, shape_keywords(shape))
}

/// A string field that takes one of the model's enum values.
pub fn one_of(values: &'static [&'static str]) -> impl FnMut(&mut Schema) {
    move |schema| extend(schema, Map::from_iter([("enum".into(), json!(values))]))
}

/// An integer field with inclusive bounds.
pub fn within(range: RangeInclusive<i64>) -> impl FnMut(&mut Schema) {
    move |schema| {
        let keywords = [
            ("minimum".to_string(), json!(range.start())),
            ("maximum".to_string(), json!(range.end())),
        ];
        extend(schema, Map::from_iter(keywords))
    }
}

/// A list of strings of one shape, with bounds on its length.
pub fn shaped_list(shape: Shape, count: RangeInclusive<usize>) -> impl FnMut(&mut Schema) {
    move |schema| {
        let mut items = Map::from_iter([("type".to_string(), json!("string"))]);
        items.extend(shape_keywords(shape));
        let mut keywords = Map::from_iter([("items".to_string(), Value::Object(items))]);
        if *count.start() > 0 {
            keywords.insert("minItems".into(), json!(count.start()));
        }
        keywords.insert("maxItems".into(), json!(count.end()));
        extend(schema, keywords)
    }
}

/// A tag map: keys and values of the model's tag shapes, at most the per-resource quota.
pub fn tag_map(schema: &mut Schema) {
    let mut values = Map::from_iter([("type".to_string(), json!("string"))]);
    values.extend(shape_keywords(Shape::TagValue));
    let keywords = [
        (
            "propertyNames".to_string(),
            Value::Object(shape_keywords(Shape::TagKey)),
        ),
        ("additionalProperties".to_string(), Value::Object(values)),
        (
            "maxProperties".to_string(),
            json!(constraints::MAX_TAGS_PER_RESOURCE),
        ),
    ];
    extend(schema, Map::from_iter(keywords))
}

/// `type: [T, "null"]` (an `Option`) as `type: T`: optional fields are the ones not
/// `required`; a null is still accepted and means absent (see `arguments`).
fn not_null(prop: &mut Value) {
    let Some(obj) = prop.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = obj.get("type") {
        let rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if rest.len() == 1 {
            obj.insert("type".into(), rest[0].clone());
        }
    }
    if let Some(Value::Array(any)) = obj.get("anyOf") {
        let rest: Vec<Value> = any
            .iter()
            .filter(|s| s.get("type") != Some(&json!("null")))
            .cloned()
            .collect();
        if let [only] = rest.as_slice() {
            let only = only.clone();
            obj.remove("anyOf");
            if let Value::Object(inner) = only {
                for (k, v) in inner {
                    obj.entry(k).or_insert(v);
                }
            }
        }
    }
    if obj.get("default") == Some(&Value::Null) {
        obj.remove("default");
    }
}

/// Drops keywords that carry nothing for a client (`format: int64`, titles) to keep
/// `tools/list` small.
fn strip_noise(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            obj.remove("title");
            if obj.get("format").and_then(Value::as_str).is_some_and(|f| {
                f.starts_with("int") || f.starts_with("uint") || f == "double" || f == "float"
            }) {
                obj.remove("format");
            }
            obj.values_mut().for_each(strip_noise);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_noise),
        _ => {}
    }
}

fn generate<T: JsonSchema>(settings: SchemaSettings) -> Value {
    let mut v = settings
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("$schema");
        obj.remove("description");
    }
    strip_noise(&mut v);
    v
}

/// The input schema of a tool: an object of its parameters, nothing else allowed.
pub fn input<T: JsonSchema>() -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.meta_schema = None;
        s.inline_subschemas = true;
    });
    let mut v = generate::<T>(settings);
    if let Some(obj) = v.as_object_mut() {
        obj.entry("properties").or_insert_with(|| json!({}));
        if let Some(Value::Object(props)) = obj.get_mut("properties") {
            props.values_mut().for_each(not_null);
        }
    }
    v
}

/// The types a property may take (`type` or the alternatives of `anyOf`/`oneOf`), each
/// reference resolved in `defs`.
fn types_of(p: &Value, defs: &Map<String, Value>) -> Vec<Value> {
    if let Some(name) = p.get("$ref").and_then(Value::as_str) {
        let target = name.rsplit('/').next().and_then(|n| defs.get(n));
        return target.map_or_else(|| vec![json!("object")], |d| types_of(d, defs));
    }
    let alternatives = p
        .get("anyOf")
        .or_else(|| p.get("oneOf"))
        .and_then(Value::as_array);
    if let Some(alternatives) = alternatives {
        let mut out = Vec::new();
        for t in alternatives.iter().flat_map(|a| types_of(a, defs)) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
        return out;
    }
    match p.get("type") {
        Some(Value::Array(types)) => types.clone(),
        Some(t) => vec![t.clone()],
        None => Vec::new(),
    }
}

/// A property of a result as published: its types, description, enum, and the types of its
/// items or map values; what nested objects hold is left out (see `output`).
fn summary(p: &Value, defs: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    match types_of(p, defs).as_slice() {
        [] => {}
        [one] => {
            out.insert("type".into(), one.clone());
        }
        many => {
            out.insert("type".into(), Value::Array(many.to_vec()));
        }
    }
    let target = p
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| defs.get(r.rsplit('/').next()?));
    for key in ["description", "enum"] {
        if let Some(v) = p.get(key).or_else(|| target.and_then(|t| t.get(key))) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(items) = p.get("items") {
        out.insert("items".into(), summary(items, defs));
    }
    if let Some(values) = p.get("additionalProperties").filter(|v| v.is_object()) {
        out.insert("additionalProperties".into(), summary(values, defs));
    }
    Value::Object(out)
}

/// The output schema of a tool, or `None` when its result is not described as an object
/// (untyped JSON): MCP output schemas must be objects. Published one level deep: every field of
/// the result with its type, description and whether it is always there (`required`); nested
/// objects as `{"type": "object"}`. The full nested schemas of 36 tools would double
/// `tools/list` (80 KB against the original's 52 KB) and tell a model little more.
pub fn output<T: JsonSchema>() -> Option<Value> {
    let settings = SchemaSettings::draft2020_12()
        .with(|s| s.meta_schema = None)
        .for_serialize();
    let v = generate::<T>(settings);
    if v.get("type") != Some(&json!("object")) {
        return None;
    }
    let empty = Map::new();
    let defs = v.get("$defs").and_then(Value::as_object).unwrap_or(&empty);
    let props: Map<String, Value> = v
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty)
        .iter()
        .map(|(k, p)| (k.clone(), summary(p, defs)))
        .collect();
    let mut out = Map::from_iter([
        ("type".to_string(), json!("object")),
        ("properties".to_string(), Value::Object(props)),
    ]);
    if let Some(required) = v.get("required") {
        out.insert("required".into(), required.clone());
    }
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_anchored_and_portable() {
        assert_eq!(pattern("[0-9a-z]{32}"), "^(?:[0-9a-z]{32})$");
        let token = pattern(constraints::rule(Shape::NextToken).pattern.unwrap());
        assert_eq!(token, r"^(?:[\x00-\x7F]{0,8192})$");
        for shape in constraints::ALL {
            if let Some(p) = constraints::rule(shape).pattern {
                // Every published pattern compiles (as a Rust regex: same syntax for these).
                let published = pattern(p).replace("(?!aws:)", "");
                regex::Regex::new(&published).unwrap_or_else(|e| panic!("{shape:?}: {e}"));
            }
        }
    }

    #[test]
    fn untyped_output_publishes_no_schema() {
        assert_eq!(output::<Value>(), None);
    }

    #[derive(serde::Serialize, JsonSchema)]
    #[allow(dead_code)] // only its schema is used
    enum Outcome {
        Done,
        Failed,
    }

    /// One image set's outcome.
    #[derive(serde::Serialize, JsonSchema)]
    struct Item {
        id: String,
        outcome: Outcome,
    }

    #[derive(serde::Serialize, JsonSchema)]
    struct Report {
        /// How many.
        total: u32,
        items: Vec<Item>,
        last: Option<Item>,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        outcome: Outcome,
    }

    #[test]
    fn output_schemas_are_published_one_level_deep() {
        let s = output::<Report>().unwrap();
        assert_eq!(
            s,
            json!({
                "type": "object",
                "properties": {
                    "total": {"type": "integer", "description": "How many."},
                    "items": {"type": "array", "items": {"type": "object", "description": "One image set's outcome."}},
                    "last": {"type": ["object", "null"]},
                    "note": {"type": ["string", "null"]},
                    "outcome": {"type": "string", "enum": ["Done", "Failed"]},
                },
                "required": ["total", "items", "last", "outcome"],
            })
        );
    }
}
