//! Copies of generated inputs inside the crates whose build scripts read them.
//!
//! A published crate is built from its own package alone, so a build script
//! may read only files inside that package: the normalized spec (and the
//! progenitor settings the client and its mocks share) live once at their
//! source and once in each crate that builds from them. `codegen` writes the
//! copies and `codegen --check` fails when one differs from its source.

use std::path::Path;

use anyhow::{Context, Result};

/// `(source, copy)`, relative to the workspace root.
pub const COPIES: &[(&str, &str)] = &[
    (
        super::NORMALIZED,
        "crates/freepik-wan-api/openapi/freepik-wan.json",
    ),
    (
        super::NORMALIZED,
        "crates/freepik-wan-mock/openapi/freepik-wan.json",
    ),
    (
        "crates/freepik-wan-api/codegen_settings.rs",
        "crates/freepik-wan-mock/codegen_settings.rs",
    ),
];

/// Writes every copy from its source.
pub fn write(root: &Path) -> Result<()> {
    for (source, copy) in COPIES {
        let text = read(&root.join(source))?;
        let target = root.join(copy);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&target, text).with_context(|| format!("writing {copy}"))?;
        println!("wrote {copy}");
    }
    Ok(())
}

/// The copies that differ from their sources (or are missing), each with a
/// line saying which.
pub fn stale(root: &Path) -> Result<Vec<String>> {
    let mut stale = Vec::new();
    for (source, copy) in COPIES {
        let wanted = read(&root.join(source))?;
        let current = std::fs::read_to_string(root.join(copy)).unwrap_or_default();
        if current != wanted {
            stale.push(format!("{copy} differs from {source}"));
        }
    }
    Ok(stale)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}
