//! The batch manifest: CSV with a header, or JSON Lines, one video per row.
//!
//! Every row is read and checked before anything is sent; a bad row is
//! reported with its line number.

use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};

use freepik_wan::{Client, Model, VideoRequest};
use sha2::{Digest, Sha256};

use crate::args::Inputs;

/// The fields a row had before models other than Wan 2.2 (their digest is
/// kept as it was, so journals of earlier versions still apply).
const FIELDS: [&str; 7] = [
    "image",
    "prompt",
    "duration",
    "aspect_ratio",
    "seed",
    "resolution",
    "out",
];

/// The fields for the other models: `model` picks one (default Wan 2.2 at
/// `resolution`), the rest are `generate`'s inputs. `reference` holds one or
/// more `URL[,voice=URL]` separated by ` | `.
const MORE_FIELDS: [&str; 10] = [
    "model",
    "negative_prompt",
    "end_image",
    "video",
    "reference",
    "audio",
    "size",
    "shot_type",
    "prompt_expansion",
    "webhook_url",
];

/// One video to make, as the manifest asked for it.
#[derive(Clone, Debug)]
pub struct Row {
    /// The manifest line the row is on (the CSV header is line 1).
    pub line: u64,
    /// The model endpoint it is made at.
    pub model: Model,
    /// What the video is made from, as `generate`'s flags of the same names
    /// would give it; the image is a path (relative paths are from the
    /// manifest's directory) or an http(s) URL.
    pub inputs: Inputs,
    /// The body's `resolution`, where the model takes it there (Wan 2.7).
    pub body_resolution: Option<String>,
    /// Where the video goes, inside the output directory.
    pub out: PathBuf,
    /// A digest of what the row asks for, so that a journal never applies to
    /// a row that has changed since.
    pub fingerprint: String,
}

/// A row that cannot be made, with why.
#[derive(Clone, Debug)]
pub struct Invalid {
    pub line: u64,
    pub reason: String,
}

/// Reads the manifest: its rows, and the ones that break a rule. A row's
/// `out` must not be the `journal` (nor its `-wal`, `-shm` or `-journal`
/// file, nor a directory it is in), nor another row's file, once both are
/// normalized ([`normalized`]; compared without regard to case, since
/// case-insensitive file systems would make them one file).
pub fn read(
    manifest: &Path,
    out_dir: &Path,
    journal: &Path,
) -> Result<(Vec<Row>, Vec<Invalid>), String> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("cannot read the manifest {}: {e}", manifest.display()))?;
    let records = if is_json_lines(manifest, &text) {
        json_lines(&text)?
    } else {
        csv_records(&text)?
    };
    let base = manifest.parent().unwrap_or(Path::new("."));
    let (mut rows, mut invalid) = (Vec::new(), Vec::new());
    let journal = normalized(journal);
    let journal_files: Vec<String> = ["", "-wal", "-shm", "-journal"]
        .iter()
        .map(|suffix| folded(&journal).to_string() + suffix)
        .collect();
    let mut outs: HashMap<String, u64> = HashMap::new();
    for (line, fields) in records {
        let row = match row(line, &fields, base, out_dir) {
            Ok(row) => row,
            Err(reason) => {
                invalid.push(Invalid { line, reason });
                continue;
            }
        };
        let out = normalized(&row.out);
        let key = folded(&out);
        let reason = if journal_files.contains(&key) {
            Some(format!(
                "out: {} is the batch journal's file ({}): a video there would destroy the                  journal; name another file",
                row.out.display(),
                journal.display()
            ))
        } else if journal.starts_with(&out) {
            Some(format!(
                "out: {} is a directory the batch journal ({}) is in; name a file",
                row.out.display(),
                journal.display()
            ))
        } else if let Some(other) = outs.get(&key) {
            Some(format!(
                "out: {} is also line {other}'s file",
                row.out.display()
            ))
        } else {
            None
        };
        match reason {
            Some(reason) => invalid.push(Invalid { line, reason }),
            None => {
                outs.insert(key, line);
                rows.push(row);
            }
        }
    }
    if rows.is_empty() && invalid.is_empty() {
        return Err(format!("the manifest {} has no rows", manifest.display()));
    }
    Ok((rows, invalid))
}

/// Runs the SDK's own pre-send checks (every limit of the row's model, the
/// image's format and size) on every row, without sending anything.
pub async fn check(_client: &Client, rows: Vec<Row>) -> (Vec<Row>, Vec<Invalid>) {
    let (mut ok, mut invalid) = (Vec::new(), Vec::new());
    for row in rows {
        match request(&row).and_then(|request| request.check()) {
            Ok(()) => ok.push(row),
            Err(freepik_wan::Error::Validation { field, reason }) => invalid.push(Invalid {
                line: row.line,
                reason: format!("{field}: {reason}"),
            }),
            Err(error) => invalid.push(Invalid {
                line: row.line,
                reason: error.to_string(),
            }),
        }
    }
    (ok, invalid)
}

/// The create request a row stands for.
pub fn request(row: &Row) -> Result<VideoRequest, freepik_wan::Error> {
    row.inputs
        .request(row.model, row.body_resolution.as_deref())
}

fn is_field(name: &str) -> bool {
    FIELDS.contains(&name) || MORE_FIELDS.contains(&name)
}

fn is_json_lines(path: &Path, text: &str) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    matches!(ext, "jsonl" | "ndjson") || text.trim_start().starts_with('{')
}

type Fields = BTreeMap<String, String>;

fn csv_records(text: &str) -> Result<Vec<(u64, Fields)>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the manifest's CSV header: {e}"))?
        .iter()
        .map(str::to_owned)
        .collect();
    if let Some(unknown) = header.iter().find(|h| !is_field(h)) {
        return Err(format!(
            "the manifest has an unknown column `{unknown}` (known: {}, {})",
            FIELDS.join(", "),
            MORE_FIELDS.join(", ")
        ));
    }
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("the manifest's CSV: {e}"))?;
        // The physical line, counted from the byte offset (csv's own count
        // skips blank lines).
        let line = record.position().map_or(0, |p| {
            let bytes = text.as_bytes();
            let mut start = (p.byte() as usize).min(bytes.len());
            // The position can sit before the blank lines the record follows.
            while start < bytes.len() && matches!(bytes[start], b'\n' | b'\r') {
                start += 1;
            }
            bytes[..start].iter().filter(|&&b| b == b'\n').count() as u64 + 1
        });
        let fields = header
            .iter()
            .zip(record.iter())
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name.clone(), value.to_owned()))
            .collect();
        out.push((line, fields));
    }
    Ok(out)
}

fn json_lines(text: &str) -> Result<Vec<(u64, Fields)>, String> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index as u64 + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(raw)
            .map_err(|e| format!("line {line}: not a JSON object: {e}"))?;
        let serde_json::Value::Object(object) = value else {
            return Err(format!("line {line}: not a JSON object"));
        };
        let mut fields = Fields::new();
        for (name, value) in object {
            if !is_field(&name) {
                return Err(format!(
                    "line {line}: unknown field `{name}` (known: {}, {})",
                    FIELDS.join(", "),
                    MORE_FIELDS.join(", ")
                ));
            }
            let text = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                other => return Err(format!("line {line}: {name}: not a string: {other}")),
            };
            fields.insert(name, text);
        }
        out.push((line, fields));
    }
    Ok(out)
}

fn row(line: u64, fields: &Fields, base: &Path, out_dir: &Path) -> Result<Row, String> {
    let field = |name: &str| fields.get(name).map(String::as_str);
    // Relative file paths of every media column are from the manifest's
    // directory; URLs and `task:` inputs stay as written.
    let media = |text: &str| {
        let text = text.trim();
        if text.contains("://") || text.starts_with("task:") || Path::new(text).is_absolute() {
            text.to_owned()
        } else {
            base.join(text).display().to_string()
        }
    };
    let image = field("image").map(media);
    let tier = crate::args::Tier {
        model: field("model")
            .map(|m| m.parse::<Model>().map_err(|e| format!("model: {e}")))
            .transpose()?,
        resolution: field("resolution").map(str::to_owned),
    };
    let (model, body_resolution) = tier.target().map_err(|e| match e {
        freepik_wan::Error::Validation { field, reason } => format!("{field}: {reason}"),
        other => other.to_string(),
    })?;
    if image.is_none() && model.field("image").is_some_and(|f| f.required) {
        return Err("image: is required".to_owned());
    }
    let duration = field("duration")
        .map(|d| {
            d.trim_end_matches('s')
                .parse::<u32>()
                .map_err(|_| format!("duration: `{d}` is not a whole number of seconds"))
        })
        .transpose()?;
    let seed = field("seed")
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| format!("seed: `{s}` is not a whole number"))
        })
        .transpose()?;
    let prompt_expansion = field("prompt_expansion")
        .map(|on| crate::args::on_off(on).map_err(|e| format!("prompt_expansion: {e}")))
        .transpose()?;
    let text = |name: &str| field(name).map(str::to_owned);
    let inputs = Inputs {
        image: image.clone(),
        prompt: text("prompt"),
        negative_prompt: text("negative_prompt"),
        end_image: field("end_image").map(media),
        video: field("video").map(media),
        references: field("reference")
            .into_iter()
            .flat_map(|r| r.split(" | "))
            .map(|r| match r.split_once(",voice=") {
                Some((reference, voice)) => format!("{},voice={}", media(reference), media(voice)),
                None => media(r),
            })
            .collect(),
        audio: field("audio").map(media),
        duration,
        aspect_ratio: text("aspect_ratio"),
        size: text("size"),
        shot_type: text("shot_type"),
        prompt_expansion,
        seed,
        webhook_url: text("webhook_url"),
        set: Vec::new(),
    };
    let out = match field("out") {
        Some(out) => inside(out_dir, out)?,
        None => out_dir.join(default_name(line, image.as_deref().unwrap_or(""))),
    };
    let mut digest = Sha256::new();
    for name in FIELDS {
        digest.update(name.as_bytes());
        digest.update([0]);
        digest.update(field(name).unwrap_or("").as_bytes());
        digest.update([0]);
    }
    for name in MORE_FIELDS {
        if let Some(value) = field(name) {
            digest.update(name.as_bytes());
            digest.update([0]);
            digest.update(value.as_bytes());
            digest.update([0]);
        }
    }
    Ok(Row {
        line,
        model,
        inputs,
        body_resolution,
        out,
        fingerprint: format!("{:x}", digest.finalize()),
    })
}

/// `path` as the file system would find it, for comparing two paths:
/// absolute (from the current directory), `.` and `..` resolved lexically,
/// and its nearest existing ancestor directory canonicalized (so a
/// symlinked directory and its target compare equal). The file itself is
/// not resolved: a download replaces a link, never its target.
pub fn normalized(path: &Path) -> PathBuf {
    let absolute = std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf());
    let mut clean = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    let Some(name) = clean.file_name().map(ToOwned::to_owned) else {
        return clean;
    };
    // The nearest ancestor that exists, canonicalized, and the rest as is.
    let mut rest = vec![name];
    let mut dir = clean.parent().map(Path::to_path_buf);
    while let Some(current) = dir {
        if let Ok(real) = current.canonicalize() {
            return rest.iter().rev().fold(real, |path, part| path.join(part));
        }
        match current.file_name() {
            Some(part) => rest.push(part.to_owned()),
            None => break,
        }
        dir = current.parent().map(Path::to_path_buf);
    }
    clean
}

/// A normalized path folded to lower case, for comparing names that a
/// case-insensitive file system would take for one file.
fn folded(path: &Path) -> String {
    path.to_string_lossy().to_lowercase()
}

/// `out` inside `out_dir`: relative, and never climbing out of it.
fn inside(out_dir: &Path, out: &str) -> Result<PathBuf, String> {
    let path = Path::new(out);
    let climbs = path
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if climbs || out.is_empty() {
        return Err(format!(
            "out: `{out}` must be a relative path inside the output directory"
        ));
    }
    Ok(out_dir.join(path))
}

/// `<line>-<image stem>.mp4`, with only characters safe in any file name.
fn default_name(line: u64, image: &str) -> String {
    let stem = image
        .rsplit(['/', '\\'])
        .next()
        .and_then(|name| name.split(['?', '#']).next())
        .map(|name| name.rsplit_once('.').map_or(name, |(stem, _)| stem))
        .unwrap_or("");
    let safe: String = stem
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(60)
        .collect();
    if safe.is_empty() {
        format!("{line:04}.mp4")
    } else {
        format!("{line:04}-{safe}.mp4")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use freepik_wan::Resolution;

    fn read_str(name: &str, text: &str) -> (Vec<Row>, Vec<Invalid>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        read(
            &path,
            Path::new("out"),
            Path::new("out/freepik-wan-batch.db"),
        )
        .unwrap()
    }

    #[test]
    fn csv_and_json_lines_read_the_same_rows_with_line_numbers() {
        let (csv, bad) = read_str(
            "m.csv",
            "image,prompt,duration,seed,resolution\ncat.jpg,a cat,10,7,720p\n\ndog.png,,,,\n",
        );
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(csv.len(), 2);
        assert_eq!((csv[0].line, csv[1].line), (2, 4));
        assert_eq!(csv[0].inputs.seed, Some(7));
        assert_eq!(csv[0].model, Model::from(Resolution::P720));
        assert_eq!(csv[1].inputs.prompt, None);
        assert_eq!(csv[1].out, Path::new("out/0004-dog.mp4"));

        let (json, bad) = read_str(
            "m.jsonl",
            "{\"image\": \"cat.jpg\", \"prompt\": \"a cat\", \"duration\": 10, \"seed\": 7, \"resolution\": \"720p\"}\n",
        );
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(json[0].fingerprint, csv[0].fingerprint);
    }

    #[test]
    fn a_csv_manifest_takes_every_model_and_its_inputs() {
        let (rows, bad) = read_str(
            "m.csv",
            "model,prompt,duration,prompt_expansion,reference\n\
             text-to-video/wan-2-7,a lighthouse,4,off,\n\
             reference-to-video/wan-2-7,two friends,5,,https://e.x/a.png | https://e.x/b.mp4\n",
        );
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(rows[0].model.to_string(), "text-to-video/wan-2-7");
        assert_eq!(rows[0].inputs.duration, Some(4));
        assert_eq!(rows[0].inputs.prompt_expansion, Some(false));
        assert_eq!(
            rows[1].inputs.references,
            ["https://e.x/a.png", "https://e.x/b.mp4"]
        );
    }

    #[test]
    fn an_input_that_is_not_one_is_refused_not_dropped() {
        let (rows, bad) = read_str(
            "m.csv",
            "model,prompt,prompt_expansion,seed\n\
             text-to-video/wan-2-5-t2v-720p,a,maybe,\n\
             text-to-video/wan-2-5-t2v-720p,a,,x\n",
        );
        assert!(rows.is_empty(), "{rows:?}");
        let reasons: Vec<&str> = bad.iter().map(|b| b.reason.as_str()).collect();
        assert!(reasons[0].starts_with("prompt_expansion"), "{reasons:?}");
        assert!(reasons[1].starts_with("seed"), "{reasons:?}");
    }

    #[test]
    fn bad_rows_are_named_by_line_and_field() {
        let (rows, bad) = read_str(
            "m.csv",
            "image,duration,out\ncat.jpg,seven,\n,5,\ncat.jpg,5,../escape.mp4\nok.jpg,,a.mp4\nok2.jpg,,a.mp4\n",
        );
        let reasons: Vec<(u64, &str)> = bad.iter().map(|b| (b.line, b.reason.as_str())).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(
            reasons[0].0 == 2 && reasons[0].1.starts_with("duration"),
            "{reasons:?}"
        );
        assert!(
            reasons[1].0 == 3 && reasons[1].1.starts_with("image"),
            "{reasons:?}"
        );
        assert!(
            reasons[2].0 == 4 && reasons[2].1.starts_with("out"),
            "{reasons:?}"
        );
        assert!(
            reasons[3].0 == 6 && reasons[3].1.contains("line 5's file"),
            "{reasons:?}"
        );
    }

    #[test]
    fn an_out_that_is_the_journal_or_another_rows_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("videos");
        std::fs::create_dir_all(out_dir.join("sub")).unwrap();
        let path = dir.path().join("m.csv");
        std::fs::write(
            &path,
            "image,out\n\
             a.jpg,freepik-wan-batch.db\n\
             a.jpg,./freepik-wan-batch.db-wal\n\
             a.jpg,sub/./x/y.mp4\n\
             a.jpg,Freepik-Wan-Batch.db-shm\n\
             a.jpg,one.mp4\n\
             a.jpg,./one.mp4\n\
             a.jpg,sub//x/y.mp4\n\
             a.jpg,ONE.mp4\n\
             a.jpg,two.mp4\n",
        )
        .unwrap();
        let (rows, bad) = read(&path, &out_dir, &out_dir.join("freepik-wan-batch.db")).unwrap();
        let lines = |rows: &[Row]| rows.iter().map(|r| r.line).collect::<Vec<_>>();
        assert_eq!(lines(&rows), [4, 6, 10]);
        let reasons: Vec<(u64, &str)> = bad.iter().map(|b| (b.line, b.reason.as_str())).collect();
        assert_eq!(reasons.len(), 6, "{reasons:?}");
        for (line, reason) in &reasons[..2] {
            assert!(reason.contains("journal"), "{line}: {reason}");
        }
        assert!(reasons[2] == (5, reasons[2].1) && reasons[2].1.contains("journal"));
        assert!(reasons[3].1.contains("line 6"), "{reasons:?}");
        assert!(reasons[4].1.contains("line 4"), "{reasons:?}");
        assert!(reasons[5].1.contains("line 6"), "{reasons:?}");

        // A journal elsewhere: a row naming a directory it is in is refused.
        std::fs::write(&path, "image,out\na.jpg,state\na.jpg,state.mp4\n").unwrap();
        let (rows, bad) = read(&path, &out_dir, &out_dir.join("state/j.db")).unwrap();
        assert_eq!(lines(&rows), [3]);
        assert!(
            bad[0].line == 2 && bad[0].reason.contains("directory"),
            "{bad:?}"
        );

        // The same directory through a symlink is the same journal.
        #[cfg(unix)]
        {
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&out_dir, &link).unwrap();
            std::fs::write(&path, "image,out\na.jpg,freepik-wan-batch.db-wal\n").unwrap();
            let (rows, bad) = read(&path, &out_dir, &link.join("freepik-wan-batch.db")).unwrap();
            assert!(
                rows.is_empty() && bad[0].reason.contains("journal"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_unknown_column_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        std::fs::write(&path, "image,promt\ncat.jpg,typo\n").unwrap();
        let err = read(&path, Path::new("out"), Path::new("out/j.db")).unwrap_err();
        assert!(err.contains("promt"), "{err}");
    }
}
