use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;

/// The build script's table of models (crates/freepik-wan-api), run here on
/// specs made from changed documents.
#[allow(dead_code)]
#[path = "../../../crates/freepik-wan-api/build/models.rs"]
mod models_table;

/// The build script's choice of families (by cargo feature), run here where
/// no `CARGO_FEATURE_WAN_*` is set: every family with a feature is off.
#[path = "../../../crates/freepik-wan-api/build/families.rs"]
mod families;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The vendored excerpt, parsed.
fn excerpt() -> Value {
    parse_excerpt(&std::fs::read_to_string(root().join(EXCERPT)).unwrap()).unwrap()
}

fn normalized(doc: &Value) -> Result<Value> {
    normalize(Sources::from_excerpt(doc)?)
}

fn vendored() -> Value {
    normalized(&excerpt()).unwrap()
}

/// The checked-in sources: the models' excerpt and the service's (uploads).
fn with_service() -> Value {
    normalize(Sources::vendored(&root()).unwrap()).unwrap()
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

/// `(path, method, operationId)` of every operation.
fn operation_ids(doc: &Value) -> Vec<(String, String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().unwrap().iter().map(move |(method, op)| {
                (
                    path.clone(),
                    method.clone(),
                    op["operationId"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect()
}

/// The create operation's request body type at `collection`.
fn body_type(doc: &Value, collection: &str) -> String {
    doc["paths"][collection]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap()
        .trim_start_matches("#/components/schemas/")
        .to_owned()
}

/// `collection` of `excerpt` copied to `new` (path, `{task-id}` child), as a
/// new tier of the same family would be published.
fn with_tier(mut excerpt: Value, collection: &str, new: &str) -> Value {
    let paths = excerpt["paths"].as_object_mut().unwrap();
    for suffix in ["", "/{task-id}"] {
        let mut item = paths[&format!("{collection}{suffix}")].clone();
        if let Some(id) = item["post"]["operationId"].as_str() {
            item["post"]["operationId"] = json!(format!("{id}_copy"));
        }
        paths.insert(format!("{new}{suffix}"), item);
    }
    excerpt
}

#[test]
fn the_checked_in_document_is_what_the_excerpt_gives() {
    let checked_in = std::fs::read_to_string(root().join(NORMALIZED)).unwrap();
    assert_eq!(
        render(&with_service()).unwrap(),
        checked_in,
        "run `cargo xtask codegen`"
    );
}

#[test]
fn every_wan_operation_gets_a_stable_id_from_its_path() {
    let doc = vendored();
    let ids = operation_ids(&doc);
    assert_eq!(ids.len(), 51, "17 endpoints, 3 operations each");
    let stems = [
        ("image-to-video/wan-v2-2-480p", "wan_v22_480p"),
        ("image-to-video/wan-v2-2-580p", "wan_v22_580p"),
        ("image-to-video/wan-v2-2-720p", "wan_v22_720p"),
        ("text-to-video/wan-2-5-t2v-480p", "wan_25_t2v_480p"),
        ("text-to-video/wan-2-5-t2v-720p", "wan_25_t2v_720p"),
        ("text-to-video/wan-2-5-t2v-1080p", "wan_25_t2v_1080p"),
        ("image-to-video/wan-2-5-i2v-480p", "wan_25_i2v_480p"),
        ("image-to-video/wan-2-5-i2v-720p", "wan_25_i2v_720p"),
        ("image-to-video/wan-2-5-i2v-1080p", "wan_25_i2v_1080p"),
        ("text-to-video/wan-v2-6-720p", "wan_v26_t2v_720p"),
        ("text-to-video/wan-v2-6-1080p", "wan_v26_t2v_1080p"),
        ("image-to-video/wan-v2-6-720p", "wan_v26_i2v_720p"),
        ("image-to-video/wan-v2-6-1080p", "wan_v26_i2v_1080p"),
        ("text-to-video/wan-2-7", "wan_27_t2v"),
        ("image-to-video/wan-2-7", "wan_27_i2v"),
        ("reference-to-video/wan-2-7", "wan_27_r2v"),
        ("video-edit/wan-2-7", "wan_27_edit"),
    ];
    for (path, stem) in stems {
        let collection = format!("/v1/ai/{path}");
        let id = |p: &str, m: &str| {
            ids.iter()
                .find(|(path, method, _)| path == p && method == m)
                .map(|(_, _, id)| id.as_str())
                .unwrap_or_else(|| panic!("{m} {p} missing"))
        };
        assert_eq!(id(&collection, "post"), format!("create_video_{stem}"));
        assert_eq!(id(&collection, "get"), format!("list_{stem}_tasks"));
        assert_eq!(
            id(&format!("{collection}/{{task-id}}"), "get"),
            format!("get_{stem}_task")
        );
    }
    // Where the published document has an id, the derived one is the same:
    // the ids are the document's, completed (26 GETs have none).
    let published = excerpt();
    for (path, method, id) in &ids {
        if let Some(theirs) = published["paths"][path][method]["operationId"].as_str()
            && method == "post"
        {
            assert_eq!(theirs, id, "{method} {path}");
        }
    }
}

#[test]
fn every_error_status_has_one_error_schema_and_only_json() {
    let doc = vendored();
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
fn status_is_one_open_schema_and_no_strictness_remains() {
    let doc = with_service();
    assert_eq!(
        schema(&doc, "TaskStatus")["enum"],
        json!(["CREATED", "IN_PROGRESS", "COMPLETED", "FAILED"])
    );
    let text = doc.to_string();
    for gone in [
        "\"additionalProperties\":false",
        "\"uuid\"",
        "anyOf",
        "x-magnific-api-key\",\"in\"",
    ] {
        assert!(!text.contains(gone), "{gone}");
    }
    // The only `nullable` left is the task's URL list, which answers in
    // the field send as null or leave out before the video exists.
    assert_eq!(text.matches("\"nullable\"").count(), 1, "{text}");
    let detail = schema(&doc, "TaskDetail");
    assert_eq!(detail["required"], json!(["status", "task_id"]));
    assert_eq!(detail["properties"]["generated"]["nullable"], true);
    assert_eq!(
        detail["properties"]["status"]["$ref"],
        "#/components/schemas/TaskStatus"
    );
}

#[test]
fn each_family_has_its_own_body_types_and_tiers_share_identical_ones() {
    let doc = vendored();
    let bodies = [
        ("image-to-video/wan-v2-2-480p", "CreateTaskRequest"),
        ("image-to-video/wan-v2-2-720p", "CreateTaskRequest"),
        ("text-to-video/wan-2-5-t2v-480p", "Wan25T2vRequest"),
        ("text-to-video/wan-2-5-t2v-1080p", "Wan25T2vRequest"),
        ("image-to-video/wan-2-5-i2v-720p", "Wan25I2vRequest"),
        ("text-to-video/wan-v2-6-720p", "Wan26T2v720pRequest"),
        ("text-to-video/wan-v2-6-1080p", "Wan26T2v1080pRequest"),
        ("image-to-video/wan-v2-6-720p", "Wan26I2v720pRequest"),
        ("image-to-video/wan-v2-6-1080p", "Wan26I2v1080pRequest"),
        ("text-to-video/wan-2-7", "Wan27T2vRequest"),
        ("image-to-video/wan-2-7", "Wan27I2vRequest"),
        ("reference-to-video/wan-2-7", "Wan27R2vRequest"),
        ("video-edit/wan-2-7", "Wan27EditRequest"),
    ];
    for (path, name) in bodies {
        assert_eq!(body_type(&doc, &format!("/v1/ai/{path}")), name, "{path}");
    }
    // 9 body shapes in the document, 11 types (2.6's tiers differ in `size`).
    let request_types: Vec<&String> = doc["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.ends_with("Request"))
        .collect();
    assert_eq!(request_types.len(), 11, "{request_types:?}");

    // The facts the SDK's checks rest on come through.
    let p = |name: &str, field: &str| schema(&doc, name)["properties"][field].clone();
    assert_eq!(p("CreateTaskRequest", "prompt")["maxLength"], 2000);
    assert_eq!(
        p("CreateTaskRequest", "duration")["enum"],
        json!(["5", "10"])
    );
    assert_eq!(
        schema(&doc, "CreateTaskRequest")["required"],
        json!(["image"])
    );
    assert_eq!(p("Wan25T2vRequest", "prompt")["maxLength"], 800);
    assert_eq!(
        p("Wan25T2vRequest", "enable_prompt_expansion")["default"],
        true
    );
    assert_eq!(
        schema(&doc, "Wan25I2vRequest")["required"],
        json!(["image", "prompt"])
    );
    assert_eq!(p("Wan26T2v720pRequest", "size")["enum"][0], "1280*720");
    assert_eq!(p("Wan26T2v1080pRequest", "size")["enum"][0], "1920*1080");
    assert_eq!(
        p("Wan26I2v720pRequest", "duration")["enum"],
        json!(["5", "10", "15"])
    );
    assert_eq!(p("Wan27R2vRequest", "duration")["maximum"], 10);
    assert_eq!(p("Wan27EditRequest", "duration")["minimum"], 0);
    // 2.7's enums are strings (YAML 1.2), each family's own type.
    assert_eq!(
        p("Wan27T2vRequest", "aspect_ratio")["$ref"],
        "#/components/schemas/Wan27AspectRatio"
    );
    assert_eq!(schema(&doc, "Wan27AspectRatio")["enum"][0], "16:9");
    assert_eq!(schema(&doc, "AspectRatio")["enum"][0], "auto");
    assert_eq!(
        schema(&doc, "Wan27Resolution")["enum"],
        json!(["720P", "1080P"])
    );
    // Wan 2.7's i2v body lost `anyOf: []` and `nullable`, and is a plain object.
    assert_eq!(schema(&doc, "Wan27I2vRequest")["type"], "object");
}

#[test]
fn identical_answers_are_one_type() {
    let doc = vendored();
    let ok = |path: &str, method: &str| {
        doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
            ["$ref"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let r = |name: &str| format!("#/components/schemas/{name}");
    assert_eq!(
        ok("/v1/ai/image-to-video/wan-v2-2-580p", "post"),
        r("CreateTaskResponse")
    );
    assert_eq!(
        ok("/v1/ai/text-to-video/wan-2-5-t2v-480p", "post"),
        r("CreateTaskResponse")
    );
    // Wan 2.7's create answers with the detail envelope: the status type.
    assert_eq!(
        ok("/v1/ai/video-edit/wan-2-7", "post"),
        r("GetTaskResponse")
    );
    assert_eq!(
        ok("/v1/ai/video-edit/wan-2-7/{task-id}", "get"),
        r("GetTaskResponse")
    );
    assert_eq!(
        ok("/v1/ai/video-edit/wan-2-7", "get"),
        r("ListTasksResponse")
    );
    let names: Vec<&String> = doc["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("TaskDetail") && *n != "TaskDetail"),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with("TaskResponse") && n.starts_with("Wan")),
        "{names:?}"
    );
}

#[test]
fn each_create_names_its_model() {
    let doc = vendored();
    let model = &doc["paths"]["/v1/ai/image-to-video/wan-v2-6-1080p"]["post"]["x-wan-model"];
    assert_eq!(
        model,
        &json!({"family": "2.6", "kind": "image-to-video", "segment": "wan-v2-6-1080p", "tier": "1080p"})
    );
    let model = &doc["paths"]["/v1/ai/video-edit/wan-2-7"]["post"]["x-wan-model"];
    assert_eq!(model["tier"], "");
}

#[test]
fn a_new_tier_of_a_known_family_needs_no_code() {
    let more = with_tier(
        excerpt(),
        "/v1/ai/text-to-video/wan-2-5-t2v-1080p",
        "/v1/ai/text-to-video/wan-2-5-t2v-1440p",
    );
    let doc = normalized(&more).unwrap();
    assert_eq!(operation_ids(&doc).len(), 54);
    let new = "/v1/ai/text-to-video/wan-2-5-t2v-1440p";
    assert_eq!(
        doc["paths"][new]["post"]["operationId"],
        "create_video_wan_25_t2v_1440p"
    );
    assert_eq!(
        doc["paths"][&format!("{new}/{{task-id}}")]["get"]["operationId"],
        "get_wan_25_t2v_1440p_task"
    );
    assert_eq!(doc["paths"][new]["post"]["x-wan-model"]["tier"], "1440p");
    // Same body as its siblings: the same type, no new one.
    assert_eq!(body_type(&doc, new), "Wan25T2vRequest");
    // The SDK's table of models (written by the client's build script) has it.
    let table = models_table::table(&render(&doc).unwrap());
    let before = models_table::table(&render(&vendored()).unwrap());
    assert!(!before.contains("wan-2-5-t2v-1440p"));
    let entry = table
        .lines()
        .find(|l| l.contains("segment: \"wan-2-5-t2v-1440p\""))
        .expect("the new tier is a model");
    for fact in [
        "family: \"2.5\"",
        "kind: \"text-to-video\"",
        "tier: \"1440p\"",
        "create_operation: \"create_video_wan_25_t2v_1440p\"",
        "name: \"duration\", required: false, ty: \"string\", values: &[\"5\", \"10\"]",
    ] {
        assert!(entry.contains(fact), "{fact} in {entry}");
    }
    assert_eq!(
        doc["components"]["schemas"].as_object().unwrap().len(),
        vendored()["components"]["schemas"]
            .as_object()
            .unwrap()
            .len()
    );
}

#[test]
fn the_excerpt_keeps_only_wan_and_what_it_references() {
    let mut doc = excerpt();
    // A whole document has other models with their own components.
    doc["paths"]["/v1/ai/text-to-video/ltx-2-pro"] = json!({
        "post": {
            "operationId": "create_ltx",
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ltx-request"}}}},
            "responses": {"200": {"description": "OK"}}
        }
    });
    doc["components"]["schemas"]["ltx-request"] = json!({"type": "object"});
    let cut = published::excerpt(&doc).unwrap();
    assert_eq!(cut, excerpt(), "the vendored excerpt is its own excerpt");
    assert!(!cut.to_string().contains("ltx"));
    // Written and read back, it is the same document (YAML 1.2: `16:9` stays a string).
    let text = render_excerpt(&cut, "test.yaml").unwrap();
    let back = parse_excerpt(&text).unwrap();
    assert_eq!(back, cut);
    assert_eq!(
        back["components"]["schemas"]["aspect-ratio"]["enum"][0],
        "16:9"
    );
}

#[test]
fn a_semantic_change_upstream_changes_the_document() {
    let before = render(&vendored()).unwrap();
    let mut changed = excerpt();
    changed["components"]["schemas"]["wan-25-base"]["properties"]["prompt"]["maxLength"] =
        json!(799);
    let after = render(&normalized(&changed).unwrap()).unwrap();
    assert!(first_difference(&before, &after).contains("799"));
    assert!(
        check(&before, &normalized(&changed).unwrap())
            .unwrap()
            .is_err()
    );
    assert!(check(&before, &vendored()).unwrap().is_ok());

    let mut new_status = excerpt();
    new_status["components"]["schemas"]["task"]["properties"]["status"]["enum"]
        .as_array_mut()
        .unwrap()
        .push(json!("CANCELLED"));
    let doc = normalized(&new_status).unwrap();
    assert_eq!(schema(&doc, "TaskStatus")["enum"][4], "CANCELLED");
}

#[test]
fn anything_not_understood_fails_naming_where() {
    let mut odd = excerpt();
    odd["components"]["schemas"]["wan-25-base"]["properties"]["prompt"]["x-mystery"] = json!(1);
    let msg = format!("{:#}", normalized(&odd).unwrap_err());
    assert!(
        msg.contains("x-mystery") && msg.contains("properties.prompt"),
        "{msg}"
    );

    let mut choice = excerpt();
    choice["components"]["schemas"]["i2v-request"]["anyOf"] = json!([{"type": "object"}]);
    let msg = format!("{:#}", normalized(&choice).unwrap_err());
    assert!(
        msg.contains("anyOf") && msg.contains("i2v-request"),
        "{msg}"
    );

    let mut v31 = excerpt();
    v31["openapi"] = json!("3.1.0");
    let msg = format!("{:#}", Sources::from_excerpt(&v31).unwrap_err());
    assert!(msg.contains("3.0"), "{msg}");

    let mut no_list = excerpt();
    no_list["paths"]["/v1/ai/video-edit/wan-2-7"]
        .as_object_mut()
        .unwrap()
        .remove("get");
    let msg = format!("{:#}", normalized(&no_list).unwrap_err());
    assert!(msg.contains("get /v1/ai/video-edit/wan-2-7"), "{msg}");
}

#[test]
fn a_declared_key_header_is_not_a_generated_parameter() {
    let mut doc = excerpt();
    let get = &mut doc["paths"]["/v1/ai/image-to-video/wan-v2-2-580p/{task-id}"]["get"];
    get["parameters"].as_array_mut().unwrap().push(json!({
        "name": "x-freepik-api-key", "in": "header", "required": true, "schema": {"type": "string"}
    }));
    assert_eq!(
        render(&normalized(&doc).unwrap()).unwrap(),
        render(&vendored()).unwrap()
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

#[test]
fn a_family_without_its_feature_costs_no_generated_code_and_a_new_family_is_kept() {
    let none = families::select(vendored());
    assert!(none["paths"].as_object().unwrap().is_empty());
    let kept: Vec<&String> = none["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        kept,
        ["Error", "InvalidParam", "Problem"],
        "what the hooks decode"
    );

    // A family the build script has no feature for (a regenerated spec's) is kept.
    let newer = with_tier(
        excerpt(),
        "/v1/ai/text-to-video/wan-2-7",
        "/v1/ai/text-to-video/wan-2-8",
    );
    let selected = families::select(normalized(&newer).unwrap());
    let paths: Vec<&String> = selected["paths"].as_object().unwrap().keys().collect();
    assert_eq!(
        paths,
        [
            "/v1/ai/text-to-video/wan-2-8",
            "/v1/ai/text-to-video/wan-2-8/{task-id}"
        ]
    );
    // Its body is 2.7's, so it shares 2.7's type, which stays although 2.7 is off.
    let body = body_type(&selected, "/v1/ai/text-to-video/wan-2-8");
    assert_eq!(body, "Wan27T2vRequest");
    assert!(selected["components"]["schemas"][&body].is_object());
    assert!(selected["components"]["schemas"]["TaskStatus"].is_object());
    assert!(selected["components"]["schemas"]["CreateTaskRequest"].is_null());
}

#[test]
fn the_upload_operation_comes_from_its_own_excerpt_with_the_shared_error() {
    let doc = with_service();
    let op = &doc["paths"]["/v1/ai/uploads/request-url"]["post"];
    assert_eq!(op["operationId"], "request_upload_urls");
    assert_eq!(
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/UploadRequest"
    );
    for status in ["400", "401", "429", "503"] {
        assert_eq!(
            op["responses"][status]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error",
            "{status}"
        );
    }
    // Not a model: no `x-wan-model`, so the model table never lists it.
    assert!(op.get("x-wan-model").is_none());
    let target = schema(&doc, "UploadTarget");
    assert_eq!(
        target["properties"]["headers"]["additionalProperties"],
        json!({"type": "string"})
    );
    // Without the service excerpt the models' document has no upload path.
    assert!(
        vendored()["paths"]
            .get("/v1/ai/uploads/request-url")
            .is_none()
    );
}
