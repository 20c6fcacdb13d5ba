//! Generates the raw client from `openapi/freepik-wan.json` (written by
//! `cargo xtask codegen`) with progenitor, into OUT_DIR.

include!("codegen_settings.rs");

fn main() {
    let spec = load_spec(env!("CARGO_MANIFEST_DIR"));
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
}
