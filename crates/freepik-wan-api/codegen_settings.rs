// Shared by the build scripts of freepik-wan-api (the client) and
// freepik-wan-mock (its httpmock helpers), which must read the same spec with
// the same settings so that the helpers name the client's types. Each crate
// has its own copy of this file and of the spec (a package builds from its
// own files alone); `cargo xtask codegen` writes them from
// crates/freepik-wan-api/codegen_settings.rs and openapi/freepik-wan.json,
// and `--check` fails when a copy differs.

/// The normalized spec, relative to the crate's directory.
const SPEC: &str = "openapi/freepik-wan.json";

/// Reads the normalized spec and tells cargo to rebuild when it changes.
fn load_spec(manifest_dir: &str) -> openapiv3::OpenAPI {
    let path = std::path::Path::new(manifest_dir).join(SPEC);
    println!("cargo:rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not OpenAPI 3.0: {e}", path.display()))
}

/// Builder-style methods, one client type, and the open `TaskStatus` enum
/// (found at `task_status_path`) in place of the spec's closed one.
fn base_settings(task_status_path: &str) -> progenitor::GenerationSettings {
    let mut settings = progenitor::GenerationSettings::default();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        .with_replacement(
            "TaskStatus",
            task_status_path,
            [progenitor::TypeImpl::Display, progenitor::TypeImpl::FromStr].into_iter(),
        );
    settings
}

/// Writes generated tokens to `OUT_DIR/file`, unformatted: formatting them
/// (prettyplease, on syn's full parser) cost every user's clean build a few
/// seconds for a file nobody reads; rustdoc shows the items either way.
fn write_generated(tokens: proc_macro2::TokenStream, file: &str) {
    let out =
        std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join(file);
    std::fs::write(&out, tokens.to_string())
        .unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
