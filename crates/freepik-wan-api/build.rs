//! Generates the raw client from `openapi/freepik-wan.json` (written by
//! `cargo xtask codegen`) with progenitor, into OUT_DIR.

use std::path::Path;

fn main() {
    let spec_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/freepik-wan.json");
    println!("cargo:rerun-if-changed={}", spec_path.display());
    let text = std::fs::read_to_string(&spec_path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", spec_path.display()));
    let spec: openapiv3::OpenAPI = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not OpenAPI 3.0: {e}", spec_path.display()));

    let mut settings = progenitor::GenerationSettings::default();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        // The key header, tracing and the non-JSON error-body rescue live in
        // `hooks.rs`: progenitor ignores `security`, so the crate attaches the key.
        .with_hooks(progenitor::HooksMode::Expected)
        .with_inner_type(quote_path("crate::hooks::Inner"))
        // Statuses are an open set: the hand-written enum keeps unknown values.
        .with_replacement(
            "TaskStatus",
            "crate::TaskStatus",
            [progenitor::TypeImpl::Display, progenitor::TypeImpl::FromStr].into_iter(),
        );
    let mut generator = progenitor::Generator::new(&settings);
    let tokens = generator
        .generate_tokens(&spec)
        .unwrap_or_else(|e| panic!("progenitor could not generate the client: {e}"));
    let file = syn::parse2(tokens).expect("progenitor emits valid Rust");
    let code = prettyplease::unparse(&file);
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("codegen.rs");
    std::fs::write(&out, code).expect("writing the generated client");
}

fn quote_path(path: &str) -> proc_macro2::TokenStream {
    path.parse().expect("a valid Rust path")
}
