//! The seed page: a Markdown page whose ```` ```yaml ```` block is the docs
//! site's own rendering of one operation (`paths: {path, method, request,
//! response}`, `schemaArray`, `refIdentifier`, `requiredProperties`).
//! Converted here into a plain OpenAPI operation.

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use super::schema::from_docs_rendering;
use super::{Sources, object, only_keys};

/// Parses the seed page into plain OpenAPI operations and schemas.
pub fn parse(page: &str) -> Result<Sources> {
    let block = yaml_block(page)?;
    let doc: Value = serde_yaml::from_str(block).context("the ```yaml block is not valid YAML")?;
    let top = object(&doc, "yaml block")?;
    only_keys(top, &["paths", "components"], "yaml block")?;

    let mut sources = Sources::default();
    let op = object(top.get("paths").context("yaml block: no `paths`")?, "paths")?;
    only_keys(
        op,
        &[
            "path",
            "method",
            "servers",
            "request",
            "response",
            "deprecated",
            "type",
        ],
        "paths",
    )?;
    let path = str_at(op, "path", "paths")?;
    let method = str_at(op, "method", "paths")?.to_ascii_lowercase();
    let mut operation = Map::new();
    // The page's `# heading` and `> lead` are the operation's summary and description.
    let lines = || page[..page.find("```").unwrap_or(page.len())].lines();
    if let Some(title) = lines().find_map(|l| l.strip_prefix("# ")) {
        operation.insert("summary".into(), json!(title.trim()));
    }
    if let Some(lead) = lines().find_map(|l| l.strip_prefix("> ")) {
        operation.insert("description".into(), json!(lead.trim()));
    }
    if let Some(request) = op.get("request") {
        convert_request(request, &mut operation)?;
    }
    let response = op.get("response").context("paths: no `response`")?;
    operation.insert("responses".into(), convert_responses(response)?);
    if op.get("deprecated") == Some(&Value::Bool(true)) {
        operation.insert("deprecated".into(), Value::Bool(true));
    }
    sources
        .operations
        .push((path.to_owned(), method, Value::Object(operation)));

    if let Some(components) = top.get("components") {
        let components = object(components, "components")?;
        only_keys(components, &["schemas"], "components")?;
        if let Some(schemas) = components.get("schemas") {
            for (name, schema) in object(schemas, "components.schemas")? {
                let at = format!("components.schemas.{name}");
                let (schema, _) = from_docs_rendering(schema, &at)?;
                sources.schemas.push((name.clone(), schema, "seed".into()));
            }
        }
    }
    Ok(sources)
}

/// The text between the page's ```` ```yaml ```` fence and its closing fence.
fn yaml_block(page: &str) -> Result<&str> {
    let start = page
        .find("````yaml")
        .or_else(|| page.find("```yaml"))
        .context("no ```yaml block in the page")?;
    let fence_len = page[start..].chars().take_while(|c| *c == '`').count();
    let fence = &page[start..start + fence_len];
    let body_start = start
        + page[start..]
            .find('\n')
            .context("unterminated fence line")?
        + 1;
    let body_len = page[body_start..]
        .find(&format!("\n{fence}"))
        .context("the ```yaml block is not closed")?;
    Ok(&page[body_start..body_start + body_len])
}

fn str_at<'a>(map: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .with_context(|| format!("{at}.{key}: expected a string"))
}

fn convert_request(request: &Value, operation: &mut Map<String, Value>) -> Result<()> {
    let request = object(request, "request")?;
    only_keys(request, &["security", "parameters", "body"], "request")?;
    // `security` is the API key header; it is not declared as a parameter
    // (progenitor ignores security, and the client crate attaches the key).
    if let Some(parameters) = request.get("parameters") {
        let mut out = Vec::new();
        for (location, params) in object(parameters, "request.parameters")? {
            if !["path", "query", "header", "cookie"].contains(&location.as_str()) {
                bail!("request.parameters: unsupported location `{location}`");
            }
            for (name, param) in object(params, &format!("request.parameters.{location}"))? {
                let at = format!("request.parameters.{location}.{name}");
                let param = object(param, &at)?;
                let mut schema = param.clone();
                let required = schema.remove("required") == Some(Value::Bool(true));
                let description = schema.remove("description");
                let (schema, _) = from_docs_rendering(&Value::Object(schema), &at)?;
                let mut p = Map::new();
                p.insert("name".into(), json!(name));
                p.insert("in".into(), json!(location));
                p.insert("required".into(), json!(required || location == "path"));
                if let Some(d) = description {
                    p.insert("description".into(), d);
                }
                p.insert("schema".into(), schema);
                out.push(Value::Object(p));
            }
        }
        if !out.is_empty() {
            operation.insert("parameters".into(), Value::Array(out));
        }
    }
    if let Some(body) = request.get("body") {
        let mut content = Map::new();
        let mut body_required = false;
        for (media, entry) in object(body, "request.body")? {
            let at = format!("request.body.{media}");
            let (schema, required) = single_schema(entry, &at)?;
            body_required |= required;
            content.insert(media.clone(), json!({ "schema": schema }));
        }
        operation.insert(
            "requestBody".into(),
            json!({ "required": body_required, "content": content }),
        );
    }
    Ok(())
}

fn convert_responses(response: &Value) -> Result<Value> {
    let mut out = Map::new();
    for (status, media_map) in object(response, "response")? {
        let at = format!("response.{status}");
        let mut content = Map::new();
        let mut description = None;
        for (media, entry) in object(media_map, &at)? {
            let at = format!("{at}.{media}");
            if let Some(d) = entry.get("description") {
                description.get_or_insert_with(|| d.clone());
            }
            let (schema, _) = single_schema(entry, &at)?;
            content.insert(media.clone(), json!({ "schema": schema }));
        }
        out.insert(
            status.clone(),
            json!({
                "description": description.unwrap_or_else(|| json!(format!("HTTP {status}"))),
                "content": content,
            }),
        );
    }
    Ok(Value::Object(out))
}

/// The one schema of a media entry (`schemaArray` of length one), and whether
/// the rendering marked the body as required.
fn single_schema(entry: &Value, at: &str) -> Result<(Value, bool)> {
    let entry = object(entry, at)?;
    only_keys(entry, &["schemaArray", "examples", "description"], at)?;
    let array = entry
        .get("schemaArray")
        .and_then(Value::as_array)
        .with_context(|| format!("{at}: no `schemaArray`"))?;
    match array.as_slice() {
        [one] => from_docs_rendering(one, &format!("{at}.schemaArray[0]")),
        other => bail!(
            "{at}.schemaArray: {} schemas; only one per media type is supported",
            other.len()
        ),
    }
}
