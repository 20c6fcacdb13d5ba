//! Wan v2.2 image-to-video is served at three resolutions that take the same
//! body and give the same responses (480p, 580p, 720p). The sources describe
//! 580p; the siblings are derived from it here rather than copied by hand, so
//! an upstream change to 580p reaches all three and `--check` covers them.

use std::collections::BTreeMap;

use anyhow::{Result, ensure};
use serde_json::Value;

/// The resolution the sources describe.
const SOURCE: &str = "580p";

/// The resolutions derived from it.
const SIBLINGS: &[&str] = &["480p", "720p"];

/// Adds a copy of every 580p path for each sibling resolution: the path, the
/// operationIds and the human text say the sibling's resolution; schemas are
/// shared, so every resolution decodes into the same generated types.
pub(super) fn add(paths: &mut BTreeMap<String, BTreeMap<String, Value>>) -> Result<()> {
    let source_segment = format!("wan-v2-2-{SOURCE}");
    let originals: Vec<(String, BTreeMap<String, Value>)> = paths
        .iter()
        .filter(|(path, _)| path.contains(&source_segment))
        .map(|(path, item)| (path.clone(), item.clone()))
        .collect();
    ensure!(
        !originals.is_empty(),
        "no {SOURCE} paths to derive siblings from"
    );
    for resolution in SIBLINGS {
        for (path, item) in &originals {
            let sibling = path.replace(&source_segment, &format!("wan-v2-2-{resolution}"));
            let item = item
                .iter()
                .map(|(method, op)| (method.clone(), retag(op, resolution)))
                .collect();
            ensure!(
                paths.insert(sibling.clone(), item).is_none(),
                "{sibling}: in the sources already; the codegen derives it from {path}"
            );
        }
    }
    Ok(())
}

/// The operation with `580p` replaced by `resolution` in its id and in every
/// piece of human text (summaries, descriptions, response descriptions).
fn retag(op: &Value, resolution: &str) -> Value {
    match op {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = match value.as_str() {
                        Some(text)
                            if ["operationId", "summary", "description"]
                                .contains(&key.as_str()) =>
                        {
                            Value::String(text.replace(SOURCE, resolution))
                        }
                        _ => retag(value, resolution),
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| retag(v, resolution)).collect()),
        other => other.clone(),
    }
}
