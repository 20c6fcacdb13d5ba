//! Generates the raw client from `openapi/freepik-wan.json` (written by
//! `cargo xtask codegen`) with progenitor, into OUT_DIR, and the table of
//! models (`models.rs`) from the same spec. Only the families whose cargo
//! feature is on get methods and types (`build/families.rs`).

include!("codegen_settings.rs");

#[path = "build/families.rs"]
mod families;
#[path = "build/models.rs"]
mod models;

fn main() {
    let full = load_spec(env!("CARGO_MANIFEST_DIR"));
    let spec: openapiv3::OpenAPI = serde_json::to_value(&full)
        .map(families::select)
        .and_then(serde_json::from_value)
        .expect("the spec round-trips through JSON");
    let mut settings = base_settings("crate::TaskStatus");
    settings
        // The key header, tracing and the non-JSON error-body rescue live in
        // `hooks.rs`: progenitor ignores `security`, so the crate attaches the key.
        .with_hooks(progenitor::HooksMode::Expected)
        .with_inner_type("crate::hooks::DefaultHeaders".parse().expect("a Rust path"));
    if std::env::var_os("CARGO_FEATURE_SCHEMARS").is_some() {
        settings.with_derive("schemars::JsonSchema");
    }
    let tokens = progenitor::Generator::new(&settings)
        .generate_tokens(&spec)
        .unwrap_or_else(|e| panic!("progenitor could not generate the client: {e}"));
    write_generated(tokens, "codegen.rs");
    // From every operation: the same set, whichever families are generated.
    write_error_statuses(&full);
    // Every model is in the table, whichever families have generated code.
    let spec_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SPEC);
    models::write(
        &std::fs::read_to_string(&spec_path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", spec_path.display())),
    );
}

/// The error statuses the spec's operations declare, as a Rust slice for
/// `error_body::DOCUMENTED_ERROR_STATUSES`: derived, so that the statuses
/// whose bodies the hooks rescue are always the ones the generated code
/// decodes as `types::Error`.
fn write_error_statuses(spec: &openapiv3::OpenAPI) {
    let mut statuses = std::collections::BTreeSet::new();
    for (_, _, operation) in spec.operations() {
        for status in operation.responses.responses.keys() {
            if let openapiv3::StatusCode::Code(code) = status
                && *code >= 400
            {
                statuses.insert(*code);
            }
        }
    }
    assert!(!statuses.is_empty(), "the spec declares no error statuses");
    let list: Vec<String> = statuses.iter().map(u16::to_string).collect();
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("documented_error_statuses.rs");
    std::fs::write(&out, format!("&[{}]", list.join(", ")))
        .unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
