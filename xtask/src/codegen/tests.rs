use std::path::Path;

use serde_json::Value;

use super::*;

fn upstream(file: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../openapi/upstream")
            .join(file),
    )
    .unwrap()
}

fn from_texts(seed_text: &str, tasks_text: &str) -> Result<Value> {
    normalize(Sources::from_texts(seed_text, tasks_text)?)
}

fn vendored() -> Value {
    from_texts(&upstream(SEED_FILE), &upstream(TASKS_FILE)).unwrap()
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

#[test]
fn the_checked_in_document_is_what_the_sources_give() {
    let checked_in = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(NORMALIZED),
    )
    .unwrap();
    assert_eq!(
        render(&vendored()).unwrap(),
        checked_in,
        "run `cargo xtask codegen`"
    );
}

#[test]
fn operations_get_fixed_ids_and_one_shared_error_schema() {
    let doc = vendored();
    let ids: Vec<(&str, &str, &str)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().unwrap().iter().map(move |(method, op)| {
                (
                    path.as_str(),
                    method.as_str(),
                    op["operationId"].as_str().unwrap(),
                )
            })
        })
        .collect();
    // The sources describe 580p; 480p and 720p are derived with the same
    // shapes, named and routed for their resolution.
    let mut wanted = Vec::new();
    for resolution in ["480p", "580p", "720p"] {
        let collection = format!("/v1/ai/image-to-video/wan-v2-2-{resolution}");
        let v22 = format!("wan_v22_{resolution}");
        wanted.push((collection.clone(), "get", format!("list_{v22}_tasks")));
        wanted.push((collection.clone(), "post", format!("create_video_{v22}")));
        wanted.push((
            format!("{collection}/{{task-id}}"),
            "get",
            format!("get_{v22}_task"),
        ));
    }
    let ids: Vec<(String, &str, String)> = ids
        .into_iter()
        .map(|(p, m, i)| (p.to_string(), m, i.to_string()))
        .collect();
    assert_eq!(ids, wanted);
    for (_, item) in doc["paths"].as_object().unwrap() {
        for (_, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let statuses: Vec<&str> = responses.keys().map(String::as_str).collect();
            assert_eq!(statuses, ["200", "400", "401", "404", "429", "500", "503"]);
            for (status, response) in responses {
                let content = response["content"].as_object().unwrap();
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/json"],
                    "{status}"
                );
                if status != "200" {
                    assert_eq!(
                        content["application/json"]["schema"]["$ref"],
                        "#/components/schemas/Error"
                    );
                }
            }
        }
    }
}

#[test]
fn status_is_one_schema_with_created_and_no_strictness_remains() {
    let doc = vendored();
    assert_eq!(
        schema(&doc, "TaskStatus")["enum"],
        serde_json::json!(["CREATED", "IN_PROGRESS", "COMPLETED", "FAILED"])
    );
    let text = doc.to_string();
    assert!(!text.contains("additionalProperties"));
    assert!(!text.contains("\"uuid\""));
    assert!(!text.contains("x-freepik-api-key\",\"in\""));
    let detail = schema(&doc, "TaskDetail");
    assert_eq!(
        detail["required"],
        serde_json::json!(["generated", "status", "task_id"])
    );
    assert_eq!(
        detail["properties"]["status"]["$ref"],
        "#/components/schemas/TaskStatus"
    );
    let body = schema(&doc, "CreateTaskRequest");
    assert_eq!(body["properties"]["prompt"]["maxLength"], 2000);
    assert_eq!(
        body["properties"]["duration"]["enum"],
        serde_json::json!(["5", "10"])
    );
    assert_eq!(body["required"], serde_json::json!(["image"]));
}

#[test]
fn a_semantic_change_in_the_seed_changes_the_document() {
    let seed = upstream(SEED_FILE);
    let changed = seed.replace("maxLength: 2000", "maxLength: 1999");
    assert_ne!(seed, changed);
    let before = render(&vendored()).unwrap();
    let after = render(&from_texts(&changed, &upstream(TASKS_FILE)).unwrap()).unwrap();
    assert_ne!(before, after);
    assert!(first_difference(&before, &after).contains("1999"));

    let new_status = seed.replace(
        "            - FAILED\n",
        "            - FAILED\n            - CANCELLED\n",
    );
    assert_ne!(seed, new_status);
    let doc = from_texts(&new_status, &upstream(TASKS_FILE)).unwrap();
    assert_eq!(schema(&doc, "TaskStatus")["enum"][4], "CANCELLED");
}

#[test]
fn anything_not_understood_fails_naming_where() {
    let seed = upstream(SEED_FILE);
    let odd = seed.replacen(
        "maxLength: 2000",
        "maxLength: 2000\n                    x-mystery: 1",
        1,
    );
    let err = from_texts(&odd, &upstream(TASKS_FILE)).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("x-mystery") && msg.contains("properties.prompt"),
        "{msg}"
    );

    let two = seed.replacen("        schemaArray:\n          - type: object\n            properties:\n              webhook_url", "        schemaArray:\n          - type: string\n          - type: object\n            properties:\n              webhook_url", 1);
    let msg = format!("{:#}", from_texts(&two, &upstream(TASKS_FILE)).unwrap_err());
    assert!(msg.contains("2 schemas"), "{msg}");

    let conflict = upstream(TASKS_FILE).replace("task_id:\n          description: Task identifier\n          format: uuid\n          type: string", "task_id:\n          type: integer");
    let msg = format!("{:#}", from_texts(&seed, &conflict).unwrap_err());
    assert!(msg.contains("schema `task` differs"), "{msg}");
}

#[test]
fn the_published_document_gives_the_same_client_shape() {
    let mini = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/published-mini.yaml");
    let published = normalize(Sources::published(&mini).unwrap()).unwrap();
    let vendored = vendored();
    let names = |d: &Value| {
        d["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&published), names(&vendored));
    for name in names(&vendored) {
        assert_eq!(
            normalize::structure(schema(&published, &name)),
            normalize::structure(schema(&vendored, &name)),
            "{name}"
        );
    }
    assert_eq!(
        normalize::structure(&published["paths"]),
        normalize::structure(&vendored["paths"])
    );
    // The fixture's own 720p operation (a stub) is skipped: every sibling is
    // derived from 580p, whichever document the codegen starts from.
    let derived_720p =
        |d: &Value| normalize::structure(&d["paths"]["/v1/ai/image-to-video/wan-v2-2-720p"]);
    assert_eq!(derived_720p(&published), derived_720p(&vendored));
}

fn magnific_mini() -> Value {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/magnific-mini.yaml");
    normalize(Sources::published(&file).unwrap()).unwrap()
}

#[test]
fn the_magnific_document_gives_the_same_client_shape_without_its_key_header() {
    let magnific = magnific_mini();
    let vendored = vendored();
    assert_eq!(shape(&magnific), shape(&vendored));
    // GETs without operationIds got the project's, and the declared
    // x-magnific-api-key parameter is not a generated one.
    let get = &magnific["paths"]["/v1/ai/image-to-video/wan-v2-2-580p/{task-id}"]["get"];
    assert_eq!(get["operationId"], "get_wan_v22_580p_task");
    assert!(!magnific.to_string().contains("x-magnific-api-key\",\"in\""));
    assert_eq!(
        origin(&magnific),
        Some("published document magnific-mini.yaml")
    );
    assert_eq!(origin(&vendored), Some(VENDORED_ORIGIN));
    assert_eq!(magnific["servers"][0]["url"], "https://api.magnific.com");
}

#[test]
fn check_accepts_a_published_spec_by_shape_and_refuses_a_changed_shape() {
    let vendored = vendored();
    let magnific = magnific_mini();
    let written = render(&magnific).unwrap();
    assert_ne!(written, render(&vendored).unwrap(), "the texts differ");
    let verdict = check(&written, &vendored, true).unwrap();
    assert!(
        verdict.as_ref().is_ok_and(|v| v.contains("in shape")),
        "{verdict:?}"
    );
    // Checked against the same published document, the text must match exactly.
    assert!(check(&written, &magnific, false).unwrap().is_ok());
    assert!(check(&written, &vendored, false).unwrap().is_err());

    // A wire change in the published spec is drift, whatever its origin.
    let mut changed = magnific.clone();
    changed["components"]["schemas"]["CreateTaskRequest"]["properties"]["prompt"]["maxLength"] =
        serde_json::json!(1999);
    let problem = check(&render(&changed).unwrap(), &vendored, true)
        .unwrap()
        .unwrap_err();
    assert!(problem.contains("maxLength"), "{problem}");
    // And a vendored spec must match to the byte.
    let mut retitled = vendored.clone();
    retitled["paths"]["/v1/ai/image-to-video/wan-v2-2-580p"]["post"]["summary"] =
        serde_json::json!("edited by hand");
    assert!(
        check(&render(&retitled).unwrap(), &vendored, true)
            .unwrap()
            .is_err()
    );
}

#[test]
fn a_copy_that_differs_from_its_source_is_stale_until_written() {
    let root = tempfile_dir();
    for (source, _) in copies::COPIES {
        let path = root.join(source);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("source of {source}\n")).unwrap();
    }
    assert_eq!(
        copies::stale(&root).unwrap().len(),
        copies::COPIES.len(),
        "missing copies"
    );
    copies::write(&root).unwrap();
    assert!(copies::stale(&root).unwrap().is_empty());
    let (_, copy) = copies::COPIES[0];
    std::fs::write(root.join(copy), "edited by hand\n").unwrap();
    assert_eq!(
        copies::stale(&root).unwrap(),
        [format!("{copy} differs from {}", copies::COPIES[0].0)]
    );
    std::fs::remove_dir_all(&root).unwrap();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-copies-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
