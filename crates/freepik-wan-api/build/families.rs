// The model families this build generates methods and types for: a cargo
// feature per family (`wan-2-2`, ...), so a crate that needs one family does
// not compile the code of all of them (the SDK needs only Wan 2.2's). A
// family with no feature here (one a regenerated spec adds) is always generated.

use std::collections::BTreeSet;

use serde_json::Value;

/// The families that have a cargo feature, as the spec names them.
const GATED: &[&str] = &["2.2", "2.5", "2.6", "2.7"];

/// Schemas every build keeps, whatever families it has: the error body the
/// crate's hooks decode.
const ALWAYS: &[&str] = &["Error"];

fn enabled(family: &str) -> bool {
    !GATED.contains(&family)
        || std::env::var_os(format!("CARGO_FEATURE_WAN_{}", family.replace('.', "_"))).is_some()
}

/// `spec` without the paths of disabled families and the schemas only they use.
pub fn select(mut spec: Value) -> Value {
    let families: Vec<(String, String)> = spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .filter_map(|(path, item)| {
            let family = item["post"]["x-wan-model"]["family"].as_str()?;
            Some((path.clone(), family.to_owned()))
        })
        .collect();
    let keep = |path: &str| {
        let collection = path.strip_suffix("/{task-id}").unwrap_or(path);
        families
            .iter()
            .find(|(p, _)| p == collection)
            .is_none_or(|(_, family)| enabled(family))
    };
    let paths = spec["paths"].as_object_mut().expect("paths");
    paths.retain(|path, _| keep(path));

    let mut wanted: Vec<String> = ALWAYS.iter().map(|s| s.to_string()).collect();
    refs(&spec["paths"], &mut wanted);
    let schemas = spec["components"]["schemas"].clone();
    let mut reached = BTreeSet::new();
    while let Some(name) = wanted.pop() {
        if reached.insert(name.clone()) {
            refs(&schemas[&name], &mut wanted);
        }
    }
    if let Some(schemas) = spec["components"]["schemas"].as_object_mut() {
        schemas.retain(|name, _| reached.contains(name));
    }
    spec
}

fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v.as_str()) {
                    ("$ref", Some(r)) => {
                        if let Some(name) = r.strip_prefix("#/components/schemas/") {
                            out.push(name.to_owned());
                        }
                    }
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}
