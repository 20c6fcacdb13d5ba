//! `models`: every model the spec describes, one line each (no request sent).

use freepik_wan::Model;
use serde_json::{Value, json};

use crate::output::Output;

/// `models`: `model<TAB>kind<TAB>inputs<TAB>durations<TAB>resolutions` per
/// model; inputs are the body's fields (`*` marks a required one), without
/// `webhook_url`, which every model takes.
pub fn models(out: Output) {
    let mut lines = vec!["model\tkind\tinputs\tdurations (s)\tresolutions".to_owned()];
    let mut items = Vec::new();
    for model in Model::all() {
        let inputs: Vec<String> = model
            .info()
            .fields
            .iter()
            .filter(|f| f.name != "webhook_url")
            .map(|f| format!("{}{}", f.name, if f.required { "*" } else { "" }))
            .collect();
        let durations = model.durations().map(|d| d.to_string()).unwrap_or_default();
        let resolutions = model.resolutions().join(", ");
        let shown = if model.sizes().is_empty() {
            resolutions.clone()
        } else {
            format!("{resolutions} (size {})", model.sizes().join(", "))
        };
        lines.push(format!(
            "{model}\t{}\t{}\t{durations}\t{shown}",
            model.kind(),
            inputs.join(",")
        ));
        items.push(json!({
            "model": model.to_string(),
            "kind": model.kind(),
            "family": model.family(),
            "tier": model.tier(),
            "inputs": model.info().fields.iter().filter(|f| f.name != "webhook_url").map(field_json).collect::<Vec<_>>(),
            "durations": durations_json(model),
            "resolutions": model.resolutions(),
            "sizes": model.sizes(),
        }));
    }
    out.result(
        lines.join("\n"),
        json!({ "count": items.len(), "models": items }),
    );
}

fn field_json(f: &freepik_wan::raw::models::Field) -> Value {
    json!({
        "name": f.name,
        "required": f.required,
        "type": f.ty,
        "values": f.values,
        "url_only": f.uri || (f.ty == "string" && !f.base64 && is_media(f.name)),
        "base64": f.base64,
    })
}

/// Media inputs by name: Wan 2.5/2.6's `image` is a plain string that the
/// spec's prose says must be a public URL.
fn is_media(name: &str) -> bool {
    name == "image" || name.ends_with("_url") || name.ends_with("_urls")
}

fn durations_json(model: Model) -> Value {
    match model.durations() {
        Some(freepik_wan::Durations::Choices(values)) => json!({ "choices": values }),
        Some(freepik_wan::Durations::Range { min, max }) => json!({ "min": min, "max": max }),
        None => Value::Null,
    }
}
