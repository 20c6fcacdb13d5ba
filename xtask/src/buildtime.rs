//! `cargo xtask buildtime`: what depending on `freepik-wan` costs a user in
//! compile time, against the hand-written alternative, measured in one run.
//!
//! Two throwaway projects in a temporary directory, each with a clean target
//! directory: a hello-world that creates a task with the packaged
//! `freepik-wan` (the `.crate` files `cargo package` makes, as crates.io would
//! serve them), and one that makes the same call with reqwest + serde +
//! serde_json + tokio by hand. Each is built with `cargo build --release`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The crates the SDK hello-world needs, packaged from this workspace.
const PACKAGED: &[&str] = &["freepik-wan-api", "freepik-wan"];

const SDK_MAIN: &str = r#"#[tokio::main]
async fn main() -> freepik_wan::Result<()> {
    let client = freepik_wan::Client::from_env()?;
    let task = client.image_to_video("photo.jpg").prompt("the camera slowly pushes in").await?;
    println!("{}", task.id);
    Ok(())
}
"#;

const HAND_MAIN: &str = r#"use serde::Deserialize;

#[derive(Deserialize)]
struct Created { data: Task }
#[derive(Deserialize)]
struct Task { task_id: String }

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use base64::Engine as _;
    let key = std::env::var("MAGNIFIC_API_KEY")?;
    let image = base64::engine::general_purpose::STANDARD.encode(std::fs::read("photo.jpg")?);
    let created: Created = reqwest::Client::new()
        .post("https://api.magnific.com/v1/ai/image-to-video/wan-v2-2-580p")
        .header("x-magnific-api-key", key)
        .json(&serde_json::json!({ "image": image, "prompt": "the camera slowly pushes in" }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!("{}", created.data.task_id);
    Ok(())
}
"#;

/// Packages the SDK, builds both projects from clean, prints both times.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        bail!("unknown option `{arg}` (buildtime takes none)");
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut package = Command::new(&cargo);
    package
        .current_dir(root)
        .args(["package", "--no-verify", "--allow-dirty", "-q"]);
    // The simulator too: it is freepik-wan's dev-dependency, which cargo
    // must resolve to package freepik-wan (from this same run, as in CI).
    for crate_name in PACKAGED.iter().chain(&["freepik-wan-sim"]) {
        package.args(["-p", crate_name]);
    }
    check(
        package.status().context("running cargo package")?,
        "cargo package",
    )?;

    let work = std::env::temp_dir().join(format!("freepik-wan-buildtime-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let mut patch = String::from("\n[patch.crates-io]\n");
    for crate_name in PACKAGED {
        let file = root.join(format!(
            "target/package/{crate_name}-{}.crate",
            env!("CARGO_PKG_VERSION")
        ));
        check(
            Command::new("tar")
                .arg("-xzf")
                .arg(&file)
                .arg("-C")
                .arg(&work)
                .status()?,
            "tar",
        )?;
        let dir = work.join(format!("{crate_name}-{}", env!("CARGO_PKG_VERSION")));
        patch += &format!(
            "{crate_name} = {{ path = {:?} }}\n",
            dir.display().to_string()
        );
    }
    let sdk = project(
        &work,
        "hello-sdk",
        "freepik-wan = \"0.1\"\ntokio = { version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }\n",
        SDK_MAIN,
        &patch,
    )?;
    let hand = project(
        &work,
        "hello-reqwest",
        "reqwest = { version = \"0.13\", features = [\"json\"] }\nserde = { version = \"1\", features = [\"derive\"] }\nserde_json = \"1\"\nbase64 = \"0.22\"\ntokio = { version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }\n",
        HAND_MAIN,
        "",
    )?;
    // Resolve (and download) first, so the timed builds measure compiling.
    for dir in [&sdk, &hand] {
        check(
            Command::new(&cargo)
                .current_dir(dir)
                .arg("fetch")
                .status()?,
            "cargo fetch",
        )?;
    }
    let sdk_time = build(&cargo, &sdk)?;
    let hand_time = build(&cargo, &hand)?;
    let ratio = sdk_time.as_secs_f64() / hand_time.as_secs_f64();
    println!(
        "{{\"measure\":\"clean release build\",\"sdk_s\":{:.1},\"hand_written_s\":{:.1},\"ratio\":{ratio:.2},\"jobs\":{}}}",
        sdk_time.as_secs_f64(),
        hand_time.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "clean release build: hello-world on freepik-wan {:.1} s, hand-written reqwest + serde + tokio {:.1} s: {ratio:.2}x",
        sdk_time.as_secs_f64(),
        hand_time.as_secs_f64()
    );
    std::fs::remove_dir_all(&work).ok();
    Ok(())
}

fn project(work: &Path, name: &str, deps: &str, main: &str, patch: &str) -> Result<PathBuf> {
    let dir = work.join(name);
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[dependencies]\n{deps}{patch}\n[workspace]\n"
        ),
    )?;
    std::fs::write(dir.join("src/main.rs"), main)?;
    Ok(dir)
}

fn build(cargo: &std::ffi::OsStr, dir: &Path) -> Result<Duration> {
    let target = dir.join("target");
    std::fs::remove_dir_all(&target).ok();
    let started = Instant::now();
    let status = Command::new(cargo)
        .current_dir(dir)
        .args(["build", "--release", "--quiet", "--offline"])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .context("running cargo build")?;
    check(status, "cargo build --release")?;
    Ok(started.elapsed())
}

fn check(status: std::process::ExitStatus, what: &str) -> Result<()> {
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}
