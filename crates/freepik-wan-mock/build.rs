//! Generates typed httpmock helpers for `freepik-wan-api` with progenitor,
//! from the same normalized spec the client is generated from.

use std::path::Path;

fn main() {
    let spec_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/freepik-wan.json");
    println!("cargo:rerun-if-changed={}", spec_path.display());
    let text = std::fs::read_to_string(&spec_path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", spec_path.display()));
    let spec: openapiv3::OpenAPI = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not OpenAPI 3.0: {e}", spec_path.display()));
    let mut settings = progenitor::GenerationSettings::default();
    // Must match the client's settings so the helpers name the same types.
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        .with_replacement(
            "TaskStatus",
            "freepik_wan_api::TaskStatus",
            [progenitor::TypeImpl::Display, progenitor::TypeImpl::FromStr].into_iter(),
        );
    let mut generator = progenitor::Generator::new(&settings);
    let tokens = generator
        .httpmock(&spec, "freepik_wan_api")
        .unwrap_or_else(|e| panic!("progenitor could not generate the mocks: {e}"));
    let file = syn::parse2(tokens).expect("progenitor emits valid Rust");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("mock.rs");
    std::fs::write(&out, prettyplease::unparse(&file)).expect("writing the generated mocks");
}
