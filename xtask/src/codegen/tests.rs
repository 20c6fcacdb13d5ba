use std::path::Path;

use serde_json::Value;

use super::*;

fn vendored() -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/upstream");
    normalize(Sources::vendored(&dir).unwrap()).unwrap()
}
