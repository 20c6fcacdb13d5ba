//! Project automation, run as `cargo xtask <command>`.
//!
//! - `codegen [--check] [--from FILE]`: rebuild `openapi/freepik-wan.json` (and its
//!   copies inside the crates that build from it), the
//!   normalized spec that `crates/freepik-wan-api/build.rs` feeds to progenitor,
//!   from the vendored excerpt `openapi/upstream/magnific-wan.yaml`; `--from`
//!   first re-vendors that excerpt from a published document (with `--check`:
//!   fails when the vendored excerpt is not that document's).
//! - `bench [args]`: benchmarks against the simulator (`freepik-wan-bench`).
//! - `soak [args]`: the long fault-injected soak (`freepik-wan-bench`).
//! - `soak --chaos-seeds N [--chaos-start S] [--chaos-threads T]`: the CLI's
//!   invariant harness (`crates/freepik-wan-cli/tests/cli/chaos.rs`) over N
//!   seeds from S, T at a time, in one `cargo test` run that prints every
//!   violation with its seed and a summary (seeds, time, faults drawn).
//! - `buildtime`: clean release build of a hello-world on `freepik-wan` vs
//!   hand-written reqwest + serde + tokio, measured in one run.
//!
//! `bench` and `soak` run the bench package through cargo rather than linking
//! it: xtask must build (for `codegen`) even when the generated client does not.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

mod buildtime;
mod codegen;

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask codegen [--check] [--from FILE]\n       cargo xtask bench [--quick] [--only PHASE,...] [...]\n       cargo xtask soak [--tasks N] [--retries N] [--seed N] [--naive-create-retries]\n       cargo xtask soak --chaos-seeds N [--chaos-start S] [--chaos-threads T]\n       cargo xtask buildtime [--rounds N]";

fn run(args: Vec<String>) -> Result<ExitCode> {
    let Some((command, rest)) = args.split_first() else {
        bail!("{USAGE}");
    };
    match command.as_str() {
        "codegen" => codegen_command(rest),
        "soak" if rest.iter().any(|a| a.starts_with("--chaos")) => chaos_command(rest),
        "bench" | "soak" => bench_command(command, rest),
        "buildtime" => buildtime::run(&workspace_root(), rest).map(|()| ExitCode::SUCCESS),
        other => bail!("unknown command `{other}`\n{USAGE}"),
    }
}

fn codegen_command(args: &[String]) -> Result<ExitCode> {
    let mut check = false;
    let mut from: Option<PathBuf> = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--from" => {
                let file = iter.next().context("--from needs a FILE")?;
                from = Some(PathBuf::from(file));
            }
            other => bail!("unknown option `{other}`\n{USAGE}"),
        }
    }
    let root = workspace_root();
    let mut ok = true;
    if let Some(file) = &from {
        let excerpt = codegen::excerpt_of(file)?;
        let target = root.join(codegen::EXCERPT);
        if check {
            let vendored = std::fs::read_to_string(&target)
                .map_err(anyhow::Error::from)
                .and_then(|text| codegen::parse_excerpt(&text));
            if vendored.ok().as_ref() != Some(&excerpt) {
                eprintln!(
                    "{} is not the Wan part of {}: run `cargo xtask codegen --from {}` and commit the result",
                    codegen::EXCERPT,
                    file.display(),
                    file.display()
                );
                ok = false;
            }
        } else {
            let name = file.file_name().map_or_else(
                || file.display().to_string(),
                |f| f.to_string_lossy().into(),
            );
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&target, codegen::render_excerpt(&excerpt, &name)?)
                .with_context(|| format!("writing {}", target.display()))?;
            println!("wrote {}", codegen::EXCERPT);
        }
    }
    let wanted = codegen::normalize(codegen::Sources::vendored(&root)?)?;
    let target = root.join(codegen::NORMALIZED);
    if check {
        let current = std::fs::read_to_string(&target).unwrap_or_default();
        match codegen::check(&current, &wanted)? {
            Ok(verdict) => println!("{verdict}"),
            Err(problem) => {
                eprintln!("{problem}");
                ok = false;
            }
        }
        for stale in codegen::copies::stale(&root)? {
            eprintln!("{stale}: run `cargo xtask codegen` and commit the result");
            ok = false;
        }
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    std::fs::write(&target, codegen::render(&wanted)?)
        .with_context(|| format!("writing {}", target.display()))?;
    println!("wrote {}", codegen::NORMALIZED);
    codegen::copies::write(&root)?;
    Ok(ExitCode::SUCCESS)
}

/// `cargo run --release -p freepik-wan-bench -- <command> <args>`, with the
/// same cargo that runs xtask, from the workspace root.
fn bench_command(command: &str, args: &[String]) -> Result<ExitCode> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    if command == "bench" {
        // The pipeline phase runs `freepik-wan batch` too: the release
        // binary next to the bench's.
        let built = std::process::Command::new(&cargo)
            .current_dir(workspace_root())
            // With its `postgres` feature, for the fleet phase's shared journal.
            .args([
                "build",
                "--release",
                "--quiet",
                "-p",
                "freepik-wan-cli",
                "--features",
                "postgres",
            ])
            .status()
            .context("building freepik-wan")?;
        if !built.success() {
            return Ok(ExitCode::FAILURE);
        }
    }
    let status = std::process::Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "run",
            "--release",
            "--quiet",
            "-p",
            "freepik-wan-bench",
            "--",
            command,
        ])
        .args(args)
        .status()
        .context("running cargo")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `cargo test -p freepik-wan-cli --test cli chaos_seeds -- --nocapture`
/// with the harness's environment: `CHAOS_SEEDS`, `CHAOS_SEED_START`,
/// `CHAOS_THREADS`.
fn chaos_command(args: &[String]) -> Result<ExitCode> {
    let mut env: Vec<(&str, String)> = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let name = match arg.as_str() {
            "--chaos-seeds" => "CHAOS_SEEDS",
            "--chaos-start" => "CHAOS_SEED_START",
            "--chaos-threads" => "CHAOS_THREADS",
            other => bail!("unknown option `{other}`\n{USAGE}"),
        };
        let value = iter
            .next()
            .with_context(|| format!("{arg} needs a number"))?;
        value
            .parse::<u64>()
            .with_context(|| format!("{arg} {value}: not a number"))?;
        env.push((name, value.clone()));
    }
    if !env.iter().any(|(name, _)| *name == "CHAOS_THREADS") {
        // The runs mostly sleep (on the simulator's processing time).
        env.push(("CHAOS_THREADS", "8".to_owned()));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "test",
            "-p",
            "freepik-wan-cli",
            "--test",
            "cli",
            "chaos::chaos_seeds",
            "--",
            "--exact",
            "--nocapture",
        ])
        .envs(env)
        .env_remove("CHAOS_SEED")
        .status()
        .context("running cargo test")?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}
