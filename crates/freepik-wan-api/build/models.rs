// The table of models (`src/models.rs`), written from the normalized spec:
// one entry per create operation marked `x-wan-model` by the codegen, with
// the fields of its body as the spec gives them. A model the spec gains is
// in the table without a hand-written line.

use serde_json::Value;

/// Writes `OUT_DIR/models.rs`: the [`table`].
pub fn write(spec_text: &str) {
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("models.rs");
    std::fs::write(&out, table(spec_text))
        .unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}

/// The table of models of a normalized spec: a `&[ModelInfo]` expression.
/// (xtask's tests run it on specs made from changed documents.)
pub fn table(spec_text: &str) -> String {
    let spec: Value = serde_json::from_str(spec_text).expect("the spec is JSON");
    let schemas = &spec["components"]["schemas"];
    let mut entries = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        let Some(create) = item.get("post") else {
            continue;
        };
        let Some(model) = create.get("x-wan-model") else {
            continue;
        };
        let body_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: the create body is not a named schema"));
        let body_name = body_ref.trim_start_matches("#/components/schemas/");
        let body = &schemas[body_name];
        let required: Vec<&str> = body["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let fields: Vec<String> = body["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{body_name}: no properties"))
            .iter()
            .map(|(name, field)| {
                field_entry(
                    name,
                    field,
                    required.contains(&name.as_str()),
                    schemas,
                    &body["properties"],
                )
            })
            .collect();
        // Whether the create answers with the detail envelope (Wan 2.7's
        // `{data: {task_id, status, generated: []}}`) rather than `{data: task}`.
        let answer = resolve(
            &create["responses"]["200"]["content"]["application/json"]["schema"],
            schemas,
        );
        let create_detail = resolve(&answer["properties"]["data"], schemas)["properties"]
            .get("generated")
            .is_some();
        let text = |key: &str| {
            lit(model[key]
                .as_str()
                .unwrap_or_else(|| panic!("{path}: x-wan-model.{key}")))
        };
        entries.push(format!(
            "ModelInfo {{ family: {}, kind: {}, segment: {}, tier: {}, body: {}, create_operation: {}, create_detail: {create_detail}, fields: &[{}] }}",
            text("family"),
            text("kind"),
            text("segment"),
            text("tier"),
            lit(body_name),
            lit(create["operationId"].as_str().expect("operationId")),
            fields.join(", ")
        ));
    }
    assert!(
        !entries.is_empty(),
        "the spec marks no create as a Wan model"
    );
    format!("&[\n{}\n]\n", entries.join(",\n"))
}

/// One `Field { .. }` literal; a `$ref` to an enum or object is followed.
fn field_entry(
    name: &str,
    field: &Value,
    required: bool,
    schemas: &Value,
    siblings: &Value,
) -> String {
    let field = resolve(field, schemas);
    let items = field.get("items").map(|i| resolve(i, schemas));
    let item_fields: Vec<String> = items
        .and_then(|i| i.get("properties"))
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(n, _)| lit(n))
        .collect();
    let values: Vec<String> = field["enum"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| match v {
            Value::String(s) => lit(s),
            other => lit(&other.to_string()),
        })
        .collect();
    let int = |key: &str| match field[key].as_i64() {
        Some(n) => format!("Some({n})"),
        None => "None".into(),
    };
    let uint = |key: &str| match field[key].as_u64() {
        Some(n) => format!("Some({n})"),
        None => "None".into(),
    };
    let default = match &field["default"] {
        Value::Null => "None".into(),
        Value::String(s) => format!("Some({})", lit(s)),
        other => format!("Some({})", lit(&other.to_string())),
    };
    // An object's own fields, or those of an array's object items, with
    // their own limits (e.g. `additional_settings.prompt_extend`, a
    // reference's required `url`).
    let object = match items {
        Some(items) if items.get("properties").is_some() => Some(items),
        _ if field.get("properties").is_some() => Some(field),
        _ => None,
    };
    let sub_fields: Vec<String> = object
        .map(|object| {
            let required: Vec<&str> = object["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            object["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(n, f)| {
                    field_entry(
                        n,
                        f,
                        required.contains(&n.as_str()),
                        schemas,
                        &object["properties"],
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let description = field["description"].as_str().unwrap_or("");
    let ty = field["type"].as_str().unwrap_or("object");
    let uri = field["format"] == "uri" || items.is_some_and(|i| i["format"] == "uri");
    let base64 = description.to_ascii_lowercase().contains("base64");
    // A media input: a URL or base64 field, or one whose prose lists the
    // formats it takes (Wan 2.5's and 2.6's `image` is not marked a URI).
    let lists_formats = description.to_ascii_lowercase().contains("formats:**")
        || description.to_ascii_lowercase().contains("formats:");
    let media = if uri || base64 || lists_formats {
        media_rules(description, siblings)
    } else {
        "None".to_owned()
    };
    format!(
        "Field {{ name: {}, required: {required}, ty: {}, values: &[{}], minimum: {}, maximum: {}, max_length: {}, max_items: {}, default: {default}, uri: {uri}, base64: {}, item_fields: &[{}], fields: &[{}], media: {media} }}",
        lit(name),
        lit(ty),
        values.join(", "),
        int("minimum"),
        int("maximum"),
        uint("maxLength"),
        uint("maxItems"),
        base64,
        item_fields.join(", "),
        sub_fields.join(", ")
    )
}

fn resolve<'a>(schema: &'a Value, schemas: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => &schemas[r.trim_start_matches("#/components/schemas/")],
        None => schema,
    }
}

/// A Rust string literal (Debug escapes are valid Rust escapes).
fn lit(s: &str) -> String {
    format!("{s:?}")
}

/// The formats the prose may name, as the table spells them.
const FORMATS: &[(&str, &str)] = &[
    ("jpeg", "jpeg"),
    ("jpg", "jpeg"),
    ("png", "png"),
    ("webp", "webp"),
    ("bmp", "bmp"),
    ("mp4", "mp4"),
    ("mov", "mov"),
    ("webm", "webm"),
    ("wav", "wav"),
    ("mp3", "mp3"),
];

/// A `Some(MediaRules { .. })` literal from a media field's description, or
/// `None` when it names no kind of media (a webhook URL). "Same format
/// constraints as `other`" takes the sibling field `other`'s rules.
fn media_rules(description: &str, siblings: &Value) -> String {
    let text = description.to_ascii_lowercase().replace("**", "");
    if let Some(rest) = text.split("same format constraints as `").nth(1)
        && let Some(other) = rest.split('`').next()
        && let Some(sibling) = siblings.get(other)
        && let Some(theirs) = sibling["description"].as_str()
    {
        return media_rules(theirs, siblings);
    }
    // Formats only where the prose lists them (Wan 2.2's "supported
    // formats" are "URL ... or base64"; its image formats are "accepted").
    let mut formats: Vec<&str> = Vec::new();
    for label in ["supported formats:", "accepted image formats:"] {
        for listed in text.split(label).skip(1) {
            let listed = listed.split(['\n', '|']).next().unwrap_or("");
            for word in listed.split(|c: char| !c.is_ascii_alphanumeric()) {
                if let Some((_, name)) = FORMATS.iter().find(|(w, _)| *w == word)
                    && !formats.contains(name)
                {
                    formats.push(name);
                }
            }
        }
    }
    let kind_of = |format: &str| match format {
        "mp4" | "mov" | "webm" => "video",
        "wav" | "mp3" => "audio",
        _ => "image",
    };
    let kind = match formats.first() {
        Some(first) => kind_of(first),
        None => {
            let first = ["image", "video", "audio"]
                .into_iter()
                .filter_map(|k| text.find(k).map(|at| (at, k)))
                .min();
            match first {
                Some((_, kind)) => kind,
                None => return "None".to_owned(),
            }
        }
    };
    let numbers = |after: &str| -> Option<Vec<u64>> {
        let rest = text.split(after).nth(1)?;
        let clause = rest.split(['\n', '|', ';']).next()?;
        let found: Vec<u64> = clause
            .split(|c: char| !c.is_ascii_digit())
            .filter(|w| !w.is_empty())
            .filter_map(|w| w.parse().ok())
            .collect();
        (!found.is_empty()).then_some(found)
    };
    let max_bytes = numbers("maximum file size:").map(|n| n[0] << 20);
    let sides = numbers("dimensions:")
        .or_else(|| numbers("must be between"))
        .filter(|n| n.len() >= 2)
        .map(|n| (n[0], n[1]));
    let max_aspect = text
        .split("aspect ratio between 1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u32>().ok());
    let seconds = numbers("duration:")
        .filter(|n| n.len() >= 2)
        .map(|n| (n[0], n[1]));
    let opt = |value: Option<String>| value.map_or("None".to_owned(), |v| format!("Some({v})"));
    format!(
        "Some(MediaRules {{ kind: {}, formats: &[{}], max_bytes: {}, sides: {}, max_aspect: {}, seconds: {} }})",
        lit(kind),
        formats
            .iter()
            .map(|f| lit(f))
            .collect::<Vec<_>>()
            .join(", "),
        opt(max_bytes.map(|b| b.to_string())),
        opt(sides.map(|(a, b)| format!("({a}, {b})"))),
        opt(max_aspect.map(|a| a.to_string())),
        opt(seconds.map(|(a, b)| format!("({a}, {b})"))),
    )
}
