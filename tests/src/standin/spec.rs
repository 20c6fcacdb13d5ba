//! What the stand-in knows of the service: the vendored published excerpts
//! (`openapi/upstream/`), read as they are, their schemas compiled by a JSON
//! Schema validator with formats checked (`uri` among them).

use std::sync::OnceLock;

use jsonschema::{Draft, Validator};
use serde_json::{Value, json};

const WAN: &str = include_str!("../../../openapi/upstream/magnific-wan.yaml");
const UPLOADS: &str = include_str!("../../../openapi/upstream/magnific-uploads.yaml");

/// One model's collection path and the schemas of its three operations.
pub(crate) struct Model {
    /// `/v1/ai/{kind}/{segment}`.
    pub(crate) path: String,
    /// The create's request body.
    pub(crate) body: Schema,
    /// The create's 200 answer.
    pub(crate) created: Schema,
    /// The status (GET of one task) 200 answer.
    pub(crate) status: Schema,
    /// The list's 200 answer.
    pub(crate) list: Schema,
}

/// A compiled schema, and the fields its `data` object requires (an answer
/// the stand-in makes carries them).
pub(crate) struct Schema {
    validator: Validator,
    /// `required` of `data` (through `$ref` and `allOf`), empty for a body.
    pub(crate) data_required: Vec<String>,
}

impl Schema {
    /// Each violation as `(field, reason)`; empty when `value` is valid.
    pub(crate) fn violations(&self, value: &Value) -> Vec<(String, String)> {
        self.validator
            .iter_errors(value)
            .map(|error| {
                let field = error.instance_path().to_string();
                let field = field.trim_start_matches('/').replace('/', ".");
                (field, error.to_string())
            })
            .collect()
    }
}

/// The Wan models and the upload operation, as published.
pub(crate) struct Spec {
    /// Every path with a create.
    pub(crate) models: Vec<Model>,
    /// `request-url`'s body.
    pub(crate) upload_request: Schema,
    /// `request-url`'s 200 answer.
    pub(crate) upload_answer: Schema,
}

/// The spec, read once per process.
pub(crate) fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let wan = Document::read(WAN);
        let models = wan.doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .filter(|(_, item)| item.get("post").is_some())
            .map(|(path, item)| Model {
                path: path.clone(),
                body: wan.schema(&item["post"]["requestBody"]["content"]["application/json"]),
                created: wan.answer(&item["post"]),
                status: wan.answer(&wan.doc["paths"][format!("{path}/{{task-id}}")]["get"]),
                list: wan.answer(&item["get"]),
            })
            .collect();
        let uploads = Document::read(UPLOADS);
        let operation = &uploads.doc["paths"]["/v1/ai/uploads/request-url"]["post"];
        Spec {
            models,
            upload_request: uploads
                .schema(&operation["requestBody"]["content"]["application/json"]),
            upload_answer: uploads.answer(operation),
        }
    })
}

/// One OpenAPI 3.0 document, its schemas made JSON Schema.
struct Document {
    doc: Value,
}

impl Document {
    fn read(yaml: &str) -> Document {
        let doc: Value = serde_yaml::from_str(yaml).expect("a vendored excerpt parses");
        Document {
            doc: to_json_schema(doc),
        }
    }

    /// An operation's 200 `application/json` answer.
    fn answer(&self, operation: &Value) -> Schema {
        self.schema(&operation["responses"]["200"]["content"]["application/json"])
    }

    /// `media["schema"]`, compiled with the document's components beside it
    /// for its `$ref`s.
    fn schema(&self, media: &Value) -> Schema {
        let schema = &media["schema"];
        assert!(schema.is_object(), "no schema in {media}");
        let root = json!({
            "allOf": [schema],
            "components": self.doc["components"],
        });
        let validator = jsonschema::options()
            .with_draft(Draft::Draft4)
            .should_validate_formats(true)
            .build(&root)
            .expect("a published schema compiles");
        let data = &self.resolve(schema)["properties"]["data"];
        let data_required = if data.is_null() {
            Vec::new()
        } else {
            self.required(data)
        };
        Schema {
            validator,
            data_required,
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(pointer) => self.resolve(
                self.doc
                    .pointer(pointer.trim_start_matches('#'))
                    .expect("a $ref resolves"),
            ),
            None => schema,
        }
    }

    /// The names `schema` requires, through `$ref` and `allOf`.
    fn required(&self, schema: &Value) -> Vec<String> {
        let schema = self.resolve(schema);
        let own = schema["required"].as_array().into_iter().flatten();
        let mut names: Vec<String> = own.filter_map(|v| v.as_str().map(str::to_owned)).collect();
        for part in schema["allOf"].as_array().into_iter().flatten() {
            names.extend(self.required(part));
        }
        names
    }
}

/// OpenAPI 3.0's schema dialect as JSON Schema: `nullable: true` becomes a
/// `null` type, and an empty `anyOf` (Wan 2.7's reference-to-video body has
/// one; JSON Schema requires at least one branch, and OpenAPI tools read it
/// as no constraint) is dropped.
fn to_json_schema(value: Value) -> Value {
    match value {
        Value::Object(mut map) => {
            if map
                .get("anyOf")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
            {
                map.remove("anyOf");
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                map.remove("nullable");
                if let Some(Value::String(kind)) = map.get("type") {
                    let kind = kind.clone();
                    map.insert("type".into(), json!([kind, "null"]));
                }
            }
            map.into_iter()
                .map(|(key, value)| (key, to_json_schema(value)))
                .collect()
        }
        Value::Array(items) => items.into_iter().map(to_json_schema).collect(),
        other => other,
    }
}
