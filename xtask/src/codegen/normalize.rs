//! Makes upstream operations and schemas fit progenitor 0.15: operationIds
//! derived from the path, schemas named by their role and family, one shared
//! error schema, `application/json` only, `allOf` flattened, no
//! `additionalProperties: false` and no empty `anyOf`, the task status hoisted
//! into one `TaskStatus` schema, identical schemas merged into one type, the
//! API key not declared (the client crate attaches it).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Map, Value, json};

use super::Sources;
use super::endpoint::{self, pascal, without_family};
use super::published::collect_schema_refs;
use super::schema::check_standard;

/// Names Wan 2.2's types had before the other families came: kept, because
/// the SDK and its users compile against them.
const LEGACY_NAMES: &[(&str, &str)] = &[
    ("Wan22I2vRequest", "CreateTaskRequest"),
    ("Wan22AspectRatio", "AspectRatio"),
];

/// What an operation does, from its method and path.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Create,
    Get,
    List,
}

impl Role {
    fn of(method: &str, status: bool) -> Option<Role> {
        match (method, status) {
            ("post", false) => Some(Role::Create),
            ("get", true) => Some(Role::Get),
            ("get", false) => Some(Role::List),
            _ => None,
        }
    }

    fn operation_id(self, stem: &str) -> String {
        match self {
            Role::Create => format!("create_video_{stem}"),
            Role::Get => format!("get_{stem}_task"),
            Role::List => format!("list_{stem}_tasks"),
        }
    }

    /// The 200 body's name, shared by every model whose answer has that shape.
    fn response_name(self) -> &'static str {
        match self {
            Role::Create => "CreateTaskResponse",
            Role::Get => "GetTaskResponse",
            Role::List => "ListTasksResponse",
        }
    }
}

/// Error statuses every operation declares, with the body the service sends.
/// The contract lists 400/401/500/503; 404 (unknown task) and 429 (rate
/// limited) are real for any HTTP API and must decode the same way.
const ERROR_STATUSES: &[(&str, &str)] = &[
    ("400", "Bad Request"),
    ("401", "Unauthorized - the API key is missing or invalid"),
    ("404", "Not Found"),
    ("429", "Too Many Requests - rate limited; see Retry-After"),
    ("500", "Internal Server Error"),
    ("503", "Service Unavailable"),
];

/// The headers that carry the API key (Magnific's, and Freepik's from before
/// the rename): never generated parameters, the client crate attaches the key.
const API_KEY_HEADERS: &[&str] = &["x-magnific-api-key", "x-freepik-api-key"];

/// Turns [`Sources`] into the normalized OpenAPI 3.0.3 document.
pub fn normalize(sources: Sources) -> Result<Value> {
    let origin = sources.origin.clone();
    let mut statuses: Vec<String> = Vec::new();
    let mut schemas: BTreeMap<String, (Value, String)> = BTreeMap::new();
    for (name, mut schema, origin) in sources.schemas {
        hoist_status(&mut schema, &mut statuses);
        merge_named(&mut schemas, name, schema, origin)?;
    }
    let mut schemas: BTreeMap<String, Value> =
        schemas.into_iter().map(|(k, (v, _))| (k, v)).collect();
    let upstream: BTreeSet<String> = schemas.keys().cloned().collect();

    let mut operations = Vec::new();
    for (path, method, op) in sources.operations {
        let Some((endpoint, status)) = endpoint::parse(&path) else {
            bail!("{method} {path}: not a Wan path the codegen knows");
        };
        let role = Role::of(&method, status).with_context(|| {
            format!("{method} {path}: only create (POST), list (GET) and status (GET {{task-id}}) are supported")
        })?;
        operations.push((path, method, endpoint, role, op));
    }
    let ambiguous = endpoint::ambiguous_segments(operations.iter().map(|o| &o.2));

    // Tiers of one family and kind that take the same body share one type;
    // where their bodies differ (Wan 2.6's `size`), each tier has its own.
    let mut body_shapes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, method, endpoint, _, op) in &operations {
        if let Some(body) = op.get("requestBody") {
            let schema = json_schema(body, "requestBody")
                .and_then(|s| body_shape(s, &schemas))
                .with_context(|| format!("{method} {path}"))?;
            body_shapes
                .entry(endpoint.family_kind_rust())
                .or_default()
                .insert(schema);
        }
    }

    let mut paths: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let mut families: Vec<(String, Value)> = Vec::new();
    for (path, method, endpoint, role, mut op) in operations {
        hoist_status(&mut op, &mut statuses);
        let at = format!("{method} {path}");
        let shared_body = body_shapes
            .get(&endpoint.family_kind_rust())
            .is_none_or(|s| s.len() == 1);
        let names = Names {
            id: role.operation_id(&endpoint.stem(ambiguous.contains(&endpoint.segment))),
            body: if shared_body {
                format!("{}Request", endpoint.family_kind_rust())
            } else {
                format!("{}Request", endpoint.tier_rust())
            },
            response: role.response_name().to_owned(),
            qualified_response: format!("{}{}", endpoint.tier_rust(), role.response_name()),
        };
        let mut op = operation(&op, &names, &mut schemas).with_context(|| at.clone())?;
        if role == Role::Create {
            op["x-wan-model"] = json!({
                "family": endpoint.family,
                "kind": endpoint.kind,
                "segment": endpoint.segment,
                "tier": endpoint.tier(),
            });
        }
        families.push((endpoint.family_rust(), op.clone()));
        let item = paths.entry(path.clone()).or_default();
        ensure!(item.insert(method, op).is_none(), "{at}: defined twice");
    }
    let wan_paths: BTreeSet<String> = paths.keys().cloned().collect();
    for (path, method, op) in sources.service_operations {
        let at = format!("{method} {path}");
        ensure!(
            endpoint::parse(&path).is_none(),
            "{at}: a service operation on a model's path"
        );
        let op = service_operation(&op, &mut schemas).with_context(|| at.clone())?;
        let item = paths.entry(path.clone()).or_default();
        ensure!(item.insert(method, op).is_none(), "{at}: defined twice");
    }
    for (path, item) in paths.iter().filter(|(p, _)| wan_paths.contains(*p)) {
        let (endpoint, status) = endpoint::parse(path).expect("parsed above");
        let wanted: &[&str] = if status { &["get"] } else { &["get", "post"] };
        for method in wanted {
            ensure!(
                item.contains_key(*method),
                "{method} {path}: missing from the sources (every Wan model has create, list and status)"
            );
        }
        let child = format!("{}/{{task-id}}", endpoint.collection());
        ensure!(
            status || paths.contains_key(&child),
            "get {child}: missing from the sources (every Wan model has create, list and status)"
        );
    }

    let names: Vec<String> = schemas.keys().cloned().collect();
    for name in names {
        let schema = schemas[&name].clone();
        let flat = flatten(
            &schema,
            &schemas,
            &format!("components.schemas.{name}"),
            true,
        )?;
        schemas.insert(name, flat);
    }
    ensure!(
        !statuses.is_empty(),
        "no task `status` enum found in the sources"
    );
    schemas.insert("TaskStatus".into(), task_status_schema(statuses));
    for (name, schema) in error_schemas() {
        schemas.insert(name.into(), schema);
    }

    let family_list: BTreeSet<String> = paths
        .keys()
        .filter_map(|p| endpoint::parse(p))
        .map(|(e, _)| e.family)
        .collect();
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": format!(
                "Magnific (formerly Freepik) Wan video models {} (normalized)",
                family_list.into_iter().collect::<Vec<_>>().join(", ")
            ),
            "version": "1.0.0",
            "description": "Generated by `cargo xtask codegen`: do not edit by hand. Authentication: the API key in header x-magnific-api-key (and x-freepik-api-key, its name before the rename) on every request.",
            "x-sources": origin,
        },
        "servers": [{ "url": "https://api.magnific.com" }],
        "paths": paths,
        "components": { "schemas": {} },
    });
    let schemas = reachable(&doc, schemas);
    let renames = type_names(&schemas, &upstream, &families);
    rename_refs(&mut doc, &renames);
    let mut renamed = BTreeMap::new();
    for (name, mut schema) in schemas {
        rename_refs(&mut schema, &renames);
        let name = renames.get(&name).cloned().unwrap_or(name);
        ensure!(
            renamed.insert(name.clone(), schema).is_none(),
            "two schemas end up named `{name}`"
        );
    }
    // Type name → the upstream schema name it was made from.
    let origins: BTreeMap<String, String> = upstream
        .iter()
        .map(|old| (renames.get(old).unwrap_or(old).clone(), old.clone()))
        .collect();
    dedupe(&mut doc, &mut renamed, &origins);
    for schema in renamed.values_mut() {
        tolerate_missing_generated(schema);
    }
    doc["components"]["schemas"] = Value::Object(renamed.into_iter().collect());
    Ok(doc)
}

/// A task's `generated` list is documented as required (`[]` until
/// COMPLETED), but answers in the field send `null` or leave it out before
/// the video exists: decoding must not fail a wait over it, so the list is
/// neither required nor non-null here (the SDK reads both as "no URLs yet").
fn tolerate_missing_generated(schema: &mut Value) {
    let is_list = schema
        .pointer("/properties/generated/type")
        .is_some_and(|t| t == "array");
    if !is_list {
        return;
    }
    schema["properties"]["generated"]["nullable"] = json!(true);
    if let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) {
        required.retain(|name| name != "generated");
    }
}

/// The names one operation's id and schemas take.
struct Names {
    id: String,
    /// The request body's type (its family and kind, or tier).
    body: String,
    /// The 200 body's type where it has the role's usual shape ...
    response: String,
    /// ... and where it does not (Wan 2.7's create answers with the detail
    /// envelope; [`dedupe`] then finds it the same as the status answer).
    qualified_response: String,
}

/// A create body without the keys that say nothing for a request (Wan 2.7's
/// `anyOf: []` and `nullable: true`: a body that may be null would make
/// progenitor take an `Option`), flattened, as a comparable text.
fn body_shape(schema: &Value, schemas: &BTreeMap<String, Value>) -> Result<String> {
    let content = resolve(schema, schemas, "requestBody")?;
    let flat = flatten(&strip_body(content), schemas, "requestBody", true)?;
    Ok(canonical(&flat))
}

fn strip_body(mut content: Value) -> Value {
    if let Some(map) = content.as_object_mut() {
        map.remove("nullable");
    }
    content
}

/// Upstream schema names become Rust type names: `{Family}{Name}` for a
/// schema some families use, after the first of them (`aspect-ratio` →
/// `Wan27AspectRatio`, so families never clash), the plain name for one every
/// family uses (`task` → `Task`); then [`LEGACY_NAMES`].
fn type_names(
    schemas: &BTreeMap<String, Value>,
    upstream: &BTreeSet<String>,
    operations: &[(String, Value)],
) -> BTreeMap<String, String> {
    let mut users: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for (family, op) in operations {
        let mut wanted = Vec::new();
        collect_schema_refs(op, &mut wanted);
        let mut seen = BTreeSet::new();
        while let Some(name) = wanted.pop() {
            if seen.insert(name.clone())
                && let Some(schema) = schemas.get(&name)
            {
                collect_schema_refs(schema, &mut wanted);
                users
                    .entry(original(&name, upstream))
                    .or_default()
                    .insert(family);
            }
        }
    }
    let legacy: BTreeMap<&str, &str> = LEGACY_NAMES.iter().copied().collect();
    let all: BTreeSet<&str> = operations.iter().map(|(f, _)| f.as_str()).collect();
    schemas
        .keys()
        .map(|name| {
            let new = match users.get(&original(name, upstream)) {
                _ if !upstream.contains(name) => name.clone(),
                // Used by some families only: named for the first (a later
                // family sharing 2.7's `aspect-ratio` keeps `Wan27AspectRatio`).
                Some(families) if *families != all => format!(
                    "{}{}",
                    families.first().expect("used"),
                    pascal(without_family(name))
                ),
                _ => pascal(name),
            };
            let new = legacy.get(new.as_str()).map_or(new, |n| n.to_string());
            (name.clone(), new)
        })
        .filter(|(old, new)| old != new)
        .collect()
}

/// The schema a numbered copy copies (`task-detail_1` → `task-detail`), or
/// `name`: a copy's users count as the original's.
fn original(name: &str, upstream: &BTreeSet<String>) -> String {
    match name.rsplit_once('_') {
        Some((base, n))
            if !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && upstream.contains(base) =>
        {
            base.to_owned()
        }
        _ => name.to_owned(),
    }
}

/// Merges schemas of the same shape into one type named by the shortest of
/// their names: the `task-detail` copies, Wan 2.7's create answer and the
/// status answer. Two upstream schemas that say different things
/// (`reference-character-image` and `-video`) stay apart; only a numbered
/// copy (`task-detail_1`) joins its original. Repeated until nothing
/// changes, since merging two schemas can make the ones that refer to them equal.
fn dedupe(
    doc: &mut Value,
    schemas: &mut BTreeMap<String, Value>,
    origins: &BTreeMap<String, String>,
) {
    loop {
        let mut by_shape: BTreeMap<String, Vec<&String>> = BTreeMap::new();
        for (name, schema) in schemas.iter() {
            by_shape.entry(canonical(schema)).or_default().push(name);
        }
        let mut renames = BTreeMap::new();
        for names in by_shape.values().filter(|n| n.len() > 1) {
            let keep = names
                .iter()
                .min_by_key(|n| (n.len(), n.as_str()))
                .expect("more than one");
            for name in names.iter().filter(|n| *n != keep) {
                let merge = match (origins.get(*name), origins.get(*keep)) {
                    (Some(copy), Some(original)) => copy
                        .strip_prefix(original.as_str())
                        .and_then(|rest| rest.strip_prefix('_'))
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
                    _ => true,
                };
                if merge {
                    renames.insert((*name).clone(), (*keep).clone());
                }
            }
        }
        if renames.is_empty() {
            return;
        }
        for name in renames.keys() {
            schemas.remove(name);
        }
        rename_refs(doc, &renames);
        for schema in schemas.values_mut() {
            rename_refs(schema, &renames);
        }
    }
}

/// A schema's wire shape as text with sorted keys, for grouping.
fn canonical(schema: &Value) -> String {
    sort_keys(&structure(schema)).to_string()
}

fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, sort_keys(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

/// A service operation (uploads), normalized as a model's is, its types
/// named by the excerpt's own schema names (it is written for this project).
fn service_operation(op: &Value, schemas: &mut BTreeMap<String, Value>) -> Result<Value> {
    let id = op["operationId"].as_str().context("no operationId")?;
    let ref_name = |at: &str, entry: Option<&Value>| -> Result<String> {
        let schema = json_schema(entry.with_context(|| format!("no {at}"))?, at)?;
        schema["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .map(str::to_owned)
            .with_context(|| format!("{at}: a service operation names its schemas"))
    };
    let body = match op.get("requestBody") {
        Some(body) => ref_name("requestBody", Some(body))?,
        None => format!("{}Request", pascal(id)),
    };
    let response = ref_name("responses.200", op.pointer("/responses/200"))?;
    let names = Names {
        id: id.to_owned(),
        body,
        qualified_response: response.clone(),
        response,
    };
    operation(op, &names, schemas)
}

/// One operation, normalized.
fn operation(op: &Value, names: &Names, schemas: &mut BTreeMap<String, Value>) -> Result<Value> {
    let mut out = Map::new();
    out.insert("operationId".into(), json!(names.id));
    for key in ["summary", "description", "deprecated"] {
        if let Some(v) = op.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    let params: Vec<Value> = op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| {
            !(p["in"] == "header"
                && p["name"]
                    .as_str()
                    .is_some_and(|n| API_KEY_HEADERS.iter().any(|h| n.eq_ignore_ascii_case(h))))
        })
        .cloned()
        .collect();
    for (i, p) in params.iter().enumerate() {
        check_standard(&p["schema"], &format!("parameters[{i}].schema"))?;
    }
    if !params.is_empty() {
        out.insert("parameters".into(), Value::Array(params));
    }
    if let Some(body) = op.get("requestBody") {
        let schema = json_schema(body, "requestBody")?;
        check_standard(schema, "requestBody")?;
        let content = strip_body(resolve(schema, schemas, "requestBody")?);
        let schema = role_schema(content, &names.body, None, schemas)?;
        out.insert(
            "requestBody".into(),
            json!({
                "required": body.get("required").cloned().unwrap_or(json!(false)),
                "content": { "application/json": { "schema": schema } }
            }),
        );
    }
    let responses = op
        .get("responses")
        .and_then(Value::as_object)
        .context("no `responses`")?;
    let mut out_responses = Map::new();
    let ok = responses.get("200").context("no 200 response")?;
    let schema = json_schema(ok, "responses.200")?;
    check_standard(schema, "responses.200")?;
    out_responses.insert(
        "200".into(),
        json!({
            "description": ok.get("description").cloned().unwrap_or(json!("OK")),
            "content": { "application/json": { "schema": role_schema(
                resolve(schema, schemas, "responses.200")?,
                &names.response,
                Some(&names.qualified_response),
                schemas,
            )? } }
        }),
    );
    for status in responses.keys() {
        let code: u16 = status
            .parse()
            .with_context(|| format!("responses.{status}: not a status code"))?;
        ensure!(
            code == 200 || code >= 400,
            "responses.{status}: only 200 and error statuses are supported"
        );
    }
    let mut errors: Vec<(String, Value)> = ERROR_STATUSES
        .iter()
        .map(|(s, d)| (s.to_string(), json!(d)))
        .collect();
    for (status, response) in responses.iter().filter(|(s, _)| s.as_str() != "200") {
        let description = response.get("description").cloned();
        match errors.iter_mut().find(|(s, _)| s == status) {
            Some(entry) => entry.1 = description.unwrap_or(entry.1.clone()),
            None => errors.push((status.clone(), description.unwrap_or(json!("Error")))),
        }
    }
    errors.sort_by(|a, b| a.0.cmp(&b.0));
    for (status, description) in errors {
        out_responses.insert(
            status,
            json!({
                "description": description,
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
            }),
        );
    }
    out.insert("responses".into(), Value::Object(out_responses));
    Ok(Value::Object(out))
}

/// The `application/json` schema of a request body or response.
fn json_schema<'a>(entry: &'a Value, at: &str) -> Result<&'a Value> {
    entry
        .get("content")
        .and_then(|c| c.get("application/json"))
        .and_then(|m| m.get("schema"))
        .with_context(|| format!("{at}: no application/json schema"))
}

/// The schema `schema` stands for: the target of its `$ref`, or itself.
fn resolve(schema: &Value, schemas: &BTreeMap<String, Value>, at: &str) -> Result<Value> {
    Ok(match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let target = r
                .strip_prefix("#/components/schemas/")
                .with_context(|| format!("{at}: unsupported $ref {r}"))?;
            schemas
                .get(target)
                .with_context(|| format!("{at}: $ref to undefined schema {target}"))?
                .clone()
        }
        None => schema.clone(),
    })
}

/// Stores a request or response schema under its role's name and returns a
/// `$ref` to it, so generated types are named for what they are
/// (`Wan25T2vRequest`, `GetTaskResponse`) rather than after upstream names
/// (`create_image_from_text_flux_200_response`). A name already taken by a
/// schema of the same shape is shared; by another shape, `fallback` is used.
fn role_schema(
    content: Value,
    name: &str,
    fallback: Option<&str>,
    schemas: &mut BTreeMap<String, Value>,
) -> Result<Value> {
    let mut chosen = None;
    for candidate in std::iter::once(name).chain(fallback) {
        match schemas.get(candidate) {
            None => {
                schemas.insert(candidate.into(), content.clone());
                chosen = Some(candidate);
                break;
            }
            Some(existing) if same_shape(existing, &content, schemas)? => {
                chosen = Some(candidate);
                break;
            }
            Some(_) => {}
        }
    }
    let chosen = chosen
        .with_context(|| format!("{name}: two schemas of different shapes would take this name"))?;
    Ok(json!({ "$ref": format!("#/components/schemas/{chosen}") }))
}

fn same_shape(a: &Value, b: &Value, schemas: &BTreeMap<String, Value>) -> Result<bool> {
    let a = flatten(a, schemas, "", true)?;
    let b = flatten(b, schemas, "", true)?;
    Ok(canonical(&a) == canonical(&b))
}

/// Adds a named schema, merging it with a same-named one from another source.
/// Descriptive keys may differ; anything that changes the wire shape must not.
fn merge_named(
    schemas: &mut BTreeMap<String, (Value, String)>,
    name: String,
    schema: Value,
    origin: String,
) -> Result<()> {
    match schemas.get_mut(&name) {
        None => {
            schemas.insert(name, (schema, origin));
        }
        Some((existing, first)) => {
            ensure!(
                structure(existing) == structure(&schema),
                "schema `{name}` differs between {first} and {origin}:\n  {first}: {}\n  {origin}: {}",
                structure(existing),
                structure(&schema)
            );
            fill_descriptions(existing, &schema);
        }
    }
    Ok(())
}

const DESCRIPTIVE: &[&str] = &["description", "example", "title", "summary"];

/// A schema without its descriptive keys, for comparing shapes. The names
/// under `properties` are field names, kept whatever they are.
pub(super) fn structure(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !DESCRIPTIVE.contains(&k.as_str()))
                .map(|(k, v)| {
                    let v = match v {
                        Value::Array(_) if k == "required" => sorted(v),
                        Value::Object(props) if k == "properties" => Value::Object(
                            props
                                .iter()
                                .map(|(name, p)| (name.clone(), structure(p)))
                                .collect(),
                        ),
                        _ => structure(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(structure).collect()),
        other => other.clone(),
    }
}

fn sorted(value: &Value) -> Value {
    let mut items: Vec<String> = value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    items.sort();
    items.dedup();
    json!(items)
}

fn fill_descriptions(into: &mut Value, from: &Value) {
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in from {
            if DESCRIPTIVE.contains(&k.as_str()) {
                into.entry(k.clone()).or_insert_with(|| v.clone());
            } else if let Some(target) = into.get_mut(k) {
                fill_descriptions(target, v);
            }
        }
    }
}

/// Replaces every inline `status` string enum with a `$ref` to `TaskStatus`,
/// collecting its values: sources list different subsets (the seed page lacks
/// `CREATED`), and the SDK replaces the type with an open enum anyway.
fn hoist_status(value: &mut Value, statuses: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get_mut("properties")
                && let Some(status) = props.get_mut("status")
            {
                let status = unwrap_single_all_of(status);
                if let Some(values) = status.get("enum").and_then(Value::as_array) {
                    for v in values.iter().filter_map(Value::as_str) {
                        if !statuses.iter().any(|s| s == v) {
                            statuses.push(v.to_owned());
                        }
                    }
                    *props.get_mut("status").expect("just read") =
                        json!({ "$ref": "#/components/schemas/TaskStatus" });
                }
            }
            map.values_mut().for_each(|v| hoist_status(v, statuses));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| hoist_status(v, statuses)),
        _ => {}
    }
}

fn unwrap_single_all_of(value: &Value) -> Value {
    match value
        .get("allOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        Some([one]) => one.clone(),
        _ => value.clone(),
    }
}

/// The lifecycle order first, then any status a source adds, alphabetically.
fn task_status_schema(mut statuses: Vec<String>) -> Value {
    const ORDER: &[&str] = &["CREATED", "IN_PROGRESS", "COMPLETED", "FAILED"];
    statuses.sort_by_key(|s| {
        (
            ORDER.iter().position(|o| o == s).unwrap_or(ORDER.len()),
            s.clone(),
        )
    });
    json!({
        "description": "Task status. The client replaces this type with an open enum, so values added later decode too.",
        "type": "string",
        "enum": statuses,
    })
}

/// The one error schema every error status shares (progenitor needs one).
/// It accepts the plain `{"message"}` body, the flat problem+json body and
/// the `{"problem": {...}}` wrapping of Freepik's schema; every field is
/// optional so that an error body never fails to decode.
fn error_schemas() -> Vec<(&'static str, Value)> {
    let invalid_params = json!({
        "description": "Per-field reasons (problem+json).",
        "type": "array",
        "items": { "$ref": "#/components/schemas/InvalidParam" }
    });
    vec![
        (
            "Error",
            json!({
                "description": "An error body: `{\"message\"}`, or problem+json flat or wrapped in `problem`.",
                "type": "object",
                "properties": {
                    "message": { "type": "string" },
                    "invalid_params": invalid_params,
                    "problem": { "$ref": "#/components/schemas/Problem" }
                }
            }),
        ),
        (
            "Problem",
            json!({
                "description": "The problem+json body as Freepik's schema wraps it.",
                "type": "object",
                "properties": {
                    "message": { "type": "string" },
                    "invalid_params": invalid_params
                }
            }),
        ),
        (
            "InvalidParam",
            json!({
                "description": "One rejected request field.",
                "type": "object",
                "properties": {
                    "name": { "type": "string" },
                    "reason": { "type": "string" }
                }
            }),
        ),
    ]
}

/// Flattens `allOf`, drops an empty `anyOf` (it says nothing; progenitor
/// drops it too, but a typify reading it would see "no value is valid"),
/// `additionalProperties: false` (it would make new
/// server fields fail decoding) and `format: uuid` (task ids stay opaque
/// strings: a differently shaped id must not break decoding).
fn flatten(
    schema: &Value,
    schemas: &BTreeMap<String, Value>,
    at: &str,
    component: bool,
) -> Result<Value> {
    let Some(map) = schema.as_object() else {
        bail!("{at}: expected a schema mapping");
    };
    if map.contains_key("$ref") {
        return Ok(json!({ "$ref": map["$ref"] }));
    }
    let mut out = Map::new();
    for (k, v) in map {
        match k.as_str() {
            "allOf" => {}
            "anyOf" if v.as_array().is_some_and(Vec::is_empty) => {}
            "additionalProperties" if v == &Value::Bool(false) => {}
            "format" if v == "uuid" => {}
            "properties" => {
                let mut props = Map::new();
                for (name, prop) in v.as_object().into_iter().flatten() {
                    props.insert(
                        name.clone(),
                        flatten(prop, schemas, &format!("{at}.{name}"), false)?,
                    );
                }
                out.insert(k.clone(), Value::Object(props));
            }
            "items" => {
                out.insert(
                    k.clone(),
                    flatten(v, schemas, &format!("{at}.items"), false)?,
                );
            }
            "required" => {
                out.insert(k.clone(), sorted(v));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    let Some(members) = map.get("allOf").and_then(Value::as_array) else {
        return Ok(Value::Object(out));
    };
    if let [one] = members.as_slice()
        && one.get("$ref").is_some()
        && !out.contains_key("properties")
        && !component
    {
        // A lone `$ref` in `allOf` is how the docs attach a description to
        // a reference; keep the reference so the named type is reused. A
        // component made of one is merged instead: it must stay a type.
        return Ok(json!({ "$ref": one["$ref"] }));
    }
    for (i, member) in members.iter().enumerate() {
        let at = format!("{at}.allOf[{i}]");
        let member = match member.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
                let target = schemas
                    .get(name)
                    .with_context(|| format!("{at}: $ref to undefined schema {name}"))?;
                flatten(target, schemas, &at, true)?
            }
            None => flatten(member, schemas, &at, false)?,
        };
        merge_member(&mut out, &member, &at)?;
    }
    Ok(Value::Object(out))
}

/// Merges one flattened `allOf` member into the schema being built.
fn merge_member(out: &mut Map<String, Value>, member: &Value, at: &str) -> Result<()> {
    for (k, v) in member.as_object().into_iter().flatten() {
        match k.as_str() {
            "properties" => {
                let props = out.entry("properties").or_insert_with(|| json!({}));
                for (name, prop) in v.as_object().into_iter().flatten() {
                    if let Some(existing) = props.get(name) {
                        ensure!(
                            structure(existing) == structure(prop),
                            "{at}: property `{name}` defined twice with different shapes"
                        );
                    } else {
                        props[name] = prop.clone();
                    }
                }
            }
            "required" => {
                let mut all = out.get("required").cloned().unwrap_or(json!([]));
                all.as_array_mut()
                    .expect("required is an array")
                    .extend(v.as_array().into_iter().flatten().cloned());
                out.insert("required".into(), sorted(&all));
            }
            "type" => {
                if let Some(existing) = out.get("type") {
                    ensure!(existing == v, "{at}: `type` {v} conflicts with {existing}");
                }
                out.insert("type".into(), v.clone());
            }
            _ => {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    Ok(())
}

fn rename_refs(value: &mut Value, renames: &BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if k == "$ref" {
                    if let Some(name) = v
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/components/schemas/"))
                        && let Some(new) = renames.get(name)
                    {
                        *v = json!(format!("#/components/schemas/{new}"));
                    }
                } else {
                    rename_refs(v, renames);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_refs(v, renames)),
        _ => {}
    }
}

/// Only the schemas the operations reach; upstream helpers folded into others
/// (by `allOf` flattening or role naming) are left out.
fn reachable(doc: &Value, schemas: BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    let mut wanted = Vec::new();
    collect_schema_refs(&doc["paths"], &mut wanted);
    let mut out = BTreeMap::new();
    while let Some(name) = wanted.pop() {
        if out.contains_key(&name) {
            continue;
        }
        if let Some(schema) = schemas.get(&name) {
            collect_schema_refs(schema, &mut wanted);
            out.insert(name, schema.clone());
        }
    }
    out
}
