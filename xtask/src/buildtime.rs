//! `cargo xtask buildtime`: what depending on `freepik-wan` costs a user in
//! compile time, against the hand-written alternative, measured in one run.
//!
//! Three throwaway projects in a temporary directory, each built with
//! `cargo build --release` from a clean target directory:
//! - `hello-sdk`: a hello-world that creates a task with the packaged
//!   `freepik-wan` (the `.crate` files `cargo package` makes, as crates.io
//!   would serve them);
//! - `hello-reqwest`: the same call by hand with reqwest + serde + serde_json
//!   + base64 + tokio (the baseline);
//! - `hello-progenitor`: the hand-written call plus what the project's shape
//!   costs by itself: a build script that has progenitor generate a client
//!   from the packaged spec (not even compiled). The SDK cannot cost less
//!   than this while its raw client is generated at build time, so the
//!   difference between it and `hello-sdk` is what the SDK's own code and
//!   dependencies add.
//!
//! `--rounds N` builds the three N times, interleaved, and reports medians:
//! on a shared 2-core machine one build can be 10% off the next.

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

/// The build script of `hello-progenitor`: progenitor generating the raw
/// client from the spec, with nothing of the SDK's own.
const FLOOR_BUILD: &str = r#"fn main() {
    let spec = std::fs::read_to_string(SPEC).unwrap();
    let spec: openapiv3::OpenAPI = serde_json::from_str(&spec).unwrap();
    let tokens = progenitor::Generator::default().generate_tokens(&spec).unwrap();
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("codegen.rs");
    std::fs::write(out, tokens.to_string()).unwrap();
}
"#;

/// Packages the SDK, builds the three projects from clean (`--rounds`
/// times), prints the times and ratios.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let rounds = match args {
        [] => 1,
        [flag, n] if flag == "--rounds" => n
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("--rounds takes a positive number, not `{n}`"))?,
        [arg, ..] => bail!("unknown option `{arg}` (buildtime takes only --rounds N)"),
    };
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
    let hand = project(&work, "hello-reqwest", HAND_DEPS, HAND_MAIN, "")?;
    let spec = work.join(format!(
        "freepik-wan-api-{}/openapi/freepik-wan.json",
        env!("CARGO_PKG_VERSION")
    ));
    let floor = project(
        &work,
        "hello-progenitor",
        &format!(
            "{HAND_DEPS}\n[build-dependencies]\nprogenitor = {{ version = \"0.15.1\", default-features = false }}\nopenapiv3 = \"2.2\"\nserde_json = \"1\"\n"
        ),
        HAND_MAIN,
        "",
    )?;
    std::fs::write(
        floor.join("build.rs"),
        format!(
            "const SPEC: &str = {:?};\n{FLOOR_BUILD}",
            spec.display().to_string()
        ),
    )?;
    // Resolve (and download) first, so the timed builds measure compiling.
    for dir in [&sdk, &hand, &floor] {
        check(
            Command::new(&cargo)
                .current_dir(dir)
                .arg("fetch")
                .status()?,
            "cargo fetch",
        )?;
    }
    let (mut sdk_times, mut hand_times, mut floor_times) = (vec![], vec![], vec![]);
    for round in 1..=rounds {
        sdk_times.push(build(&cargo, &sdk)?);
        hand_times.push(build(&cargo, &hand)?);
        floor_times.push(build(&cargo, &floor)?);
        eprintln!(
            "round {round}/{rounds}: sdk {:.1} s, hand-written {:.1} s, hand-written + progenitor {:.1} s",
            sdk_times[round - 1].as_secs_f64(),
            hand_times[round - 1].as_secs_f64(),
            floor_times[round - 1].as_secs_f64()
        );
    }
    let (sdk_s, hand_s, floor_s) = (
        median(&mut sdk_times),
        median(&mut hand_times),
        median(&mut floor_times),
    );
    let ratio = sdk_s / hand_s;
    let floor_ratio = floor_s / hand_s;
    let over_floor = sdk_s / floor_s;
    println!(
        "{{\"measure\":\"clean release build\",\"rounds\":{rounds},\"sdk_s\":{sdk_s:.1},\"hand_written_s\":{hand_s:.1},\"progenitor_floor_s\":{floor_s:.1},\"ratio\":{ratio:.2},\"floor_ratio\":{floor_ratio:.2},\"sdk_over_floor\":{over_floor:.2},\"jobs\":{}}}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "clean release build (median of {rounds}): hello-world on freepik-wan {sdk_s:.1} s, hand-written reqwest + serde + tokio {hand_s:.1} s: {ratio:.2}x"
    );
    println!(
        "the hand-written call plus progenitor generating the client at build time (the floor while the raw client is generated in build.rs): {floor_s:.1} s, {floor_ratio:.2}x; the SDK over that floor: {over_floor:.2}x"
    );
    std::fs::remove_dir_all(&work).ok();
    Ok(())
}

/// The hand-written projects' dependencies.
const HAND_DEPS: &str = "reqwest = { version = \"0.13\", features = [\"json\"] }\nserde = { version = \"1\", features = [\"derive\"] }\nserde_json = \"1\"\nbase64 = \"0.22\"\ntokio = { version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }\n";

fn median(times: &mut [Duration]) -> f64 {
    times.sort();
    let mid = times.len() / 2;
    if times.len() % 2 == 1 {
        times[mid].as_secs_f64()
    } else {
        (times[mid - 1] + times[mid]).as_secs_f64() / 2.0
    }
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
