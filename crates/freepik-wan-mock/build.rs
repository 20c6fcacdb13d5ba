//! Generates typed httpmock helpers for `freepik-wan-api` with progenitor,
//! from the same normalized spec and settings the client is generated from.

include!("codegen_settings.rs");

fn main() {
    let spec = load_spec(env!("CARGO_MANIFEST_DIR"));
    let settings = base_settings("freepik_wan_api::TaskStatus");
    let tokens = progenitor::Generator::new(&settings)
        .httpmock(&spec, "freepik_wan_api")
        .unwrap_or_else(|e| panic!("progenitor could not generate the mocks: {e}"));
    write_generated(tokens, "mock.rs");
}
