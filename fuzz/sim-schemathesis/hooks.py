"""Schemathesis hooks for fuzzing freepik-wan-sim; run.sh loads them via SCHEMATHESIS_HOOKS.

What the published description alone cannot give the fuzzer:

1. An in-memory overlay on the reference description (never written to disk, so the
   reference is only ever read from shared/):
   - only the Wan operations: Magnific's document has 436 operations, 51 of them Wan's
     (17 models, each with create, list and status); the others are dropped;
   - its YAML 1.1 misreading undone: the document writes Wan 2.7's aspect ratios
     (`16:9`, `9:16`, `1:1`, `4:3`, `3:4`) unquoted, and schemathesis's YAML 1.1 loader
     reads them as base-60 integers (969, 556, 61, 243, 184); a string schema's integer
     enum values and default are turned back into the `H:M` text they were written as;
   - the empty `anyOf: []` on Wan 2.7's image- and reference-to-video bodies dropped (an
     empty anyOf is not valid JSON Schema; progenitor drops it too);
   - the statuses the contract calls real but the document does not list (404 for an
     unknown task, 413 for an oversized create body).
2. Finished tasks to ask for: the ids schemathesis itself feeds GET {task-id} (captured
   from create and list answers) mostly belong to tasks still CREATED, so the 200
   `task-detail` shape with `generated` URIs (COMPLETED) and FAILED would seldom be checked.
   Tasks made here at load time, for every model, have finished by the time they are asked
   for.
3. Usable creates: the document types media inputs as any string or any URI, and states
   some rules only in prose, so nearly every generated create would be refused on its
   first URL; half the cases are repaired (URLs made http(s), one Wan 2.7 image-to-video
   mode, 1 to 5 references, multi-shot with prompt expansion) so the other fields' rules
   and the 200 shapes are tested.
4. A check the description cannot express: every error body is JSON with a string
   `message`, and a problem+json 400 lists `invalid_params` as {name, reason} strings,
   flat or wrapped in `problem` (the contract accepts both).

Configuration comes from run.sh through the environment: SIM_BASE_URL, SIM_API_KEY.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request

import schemathesis
from hypothesis import strategies as st

# The Wan paths of Magnific's document: /v1/ai/{kind}/{segment}[/{task-id}], where the
# segment names a Wan model (wan-v2-2-580p, wan-2-5-t2v-720p, wan-v2-6-1080p, wan-2-7).
WAN_PATH = re.compile(
    r"^/v1/ai/(text-to-video|image-to-video|reference-to-video|video-edit)/wan-[^/]+(/\{task-id\})?$"
)
TASK_SUFFIX = "/{task-id}"
# The simulator never fetches these.
IMAGE = "https://img.freepik.com/free-photo/sample.jpg"
VIDEO = "https://cdn.example.com/clip.mp4"
AUDIO = "https://cdn.example.com/voice.mp3"
# A webhook the simulator can post to without leaving the machine: nothing listens on
# the discard port, so each attempt fails at once.
HOOK = "http://127.0.0.1:9/hook"
# Enough tasks per model that, with run.sh's failure rate, both terminal statuses turn up.
SEEDED_TASKS = 6

MESSAGE_ONLY = {
    "type": "object",
    "properties": {"message": {"type": "string"}},
    "required": ["message"],
}


def _undocumented(description: str) -> dict:
    return {
        "description": description + " (not in Magnific's document; added by hooks.py)",
        "content": {"application/json": {"schema": MESSAGE_ONLY}},
    }


def _sexagesimal(value):
    """The `H:M` text a YAML 1.1 loader read as the base-60 integer `value`."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 60:
        return f"{value // 60}:{value % 60}"
    return value


def _repair_schema(node) -> None:
    """Undoes the YAML 1.1 readings and drops empty anyOf, everywhere below `node`."""
    if isinstance(node, dict):
        if node.get("anyOf") == []:
            del node["anyOf"]
        if node.get("type") == "string":
            if isinstance(node.get("enum"), list):
                node["enum"] = [_sexagesimal(v) for v in node["enum"]]
            if "default" in node:
                node["default"] = _sexagesimal(node["default"])
            if "example" in node:
                node["example"] = _sexagesimal(node["example"])
        for child in node.values():
            _repair_schema(child)
    elif isinstance(node, list):
        for child in node:
            _repair_schema(child)


# Magnific's Upload Files API is not in the published document: the project
# vendors it as its own excerpt, which is merged in (paths and schemas).
UPLOADS_EXCERPT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "openapi", "upstream", "magnific-uploads.yaml"
)


def _merge_uploads(raw_schema: dict) -> None:
    import yaml

    with open(UPLOADS_EXCERPT, encoding="utf-8") as f:
        uploads = yaml.safe_load(f)
    raw_schema["paths"].update(uploads["paths"])
    schemas = raw_schema.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in uploads["components"]["schemas"].items():
        assert name not in schemas, f"the upload excerpt's {name} clashes with the document's"
        schemas[name] = schema


@schemathesis.hook
def before_load_schema(context, raw_schema: dict) -> None:
    paths = raw_schema["paths"]
    for path in [p for p in paths if not WAN_PATH.match(p)]:
        del paths[path]
    _merge_uploads(raw_schema)
    _repair_schema(raw_schema["components"]["schemas"])
    _repair_schema(paths)
    for path, item in paths.items():
        if not WAN_PATH.match(path):
            continue
        if path.endswith(TASK_SUFFIX):
            # Real for any HTTP API (contract.md, "Errors"); the simulator answers
            # {"message": "Task not found"} for an unknown or another key's task.
            item["get"]["responses"]["404"] = _undocumented("Not Found - unknown task")
        else:
            # The simulator's body limit (16 MiB, room for a 10 MB image in base64).
            item["post"]["responses"]["413"] = _undocumented("Payload Too Large")


def _kind(collection: str) -> str:
    return collection.split("/")[3]


def _minimal_create(collection: str) -> dict:
    """The smallest body each model accepts, by kind and family (the published shapes)."""
    kind, segment = collection.split("/")[3:5]
    if segment.startswith("wan-v2-2-"):
        return {"image": IMAGE}
    if kind == "text-to-video":
        return {"prompt": "a paper boat drifts down a rainy street"}
    if kind == "image-to-video" and segment == "wan-2-7":
        return {"start_image_url": IMAGE}
    if kind == "image-to-video":
        return {"image": IMAGE, "prompt": "the cat turns its head"}
    if kind == "reference-to-video":
        return {"prompt": "Image 1 waves", "image_urls": [{"url": IMAGE}]}
    if kind == "video-edit":
        return {"video_url": VIDEO}
    raise ValueError(f"hooks.py has no minimal body for {collection}")


def _call(method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        os.environ["SIM_BASE_URL"] + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"x-magnific-api-key": os.environ["SIM_API_KEY"], "content-type": "application/json"},
    )
    # The simulator is on loopback: an environment proxy would only get in the way.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return json.load(response)


def _collections() -> list[str]:
    """Every model's collection path, as the simulator's banner lists them."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(os.environ["SIM_BASE_URL"] + "/", timeout=10) as response:
        banner = response.read().decode()
    return re.findall(r"^\s+(/v1/ai/\S+)", banner, re.M)


# Made when schemathesis loads this file, before any phase starts: by the time the GETs
# below run, run.sh's short processing time has moved them to COMPLETED or FAILED.
SEEDED_IDS = {
    collection: [_call("POST", collection, _minimal_create(collection))["data"]["task_id"] for _ in range(SEEDED_TASKS)]
    for collection in _collections()
}


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    operation = context.operation
    if operation is None or not operation.path.endswith(TASK_SUFFIX):
        return st.just(path_parameters)
    ids = SEEDED_IDS.get(operation.path[: -len(TASK_SUFFIX)])
    if not ids:
        return st.just(path_parameters)
    # Half the cases keep the fuzzed id (404 path, odd bytes in the path), half ask for a
    # real task of this model, so both answers are checked throughout the run.
    real = st.sampled_from(ids).map(lambda task_id: {**path_parameters, "task-id": task_id})
    return st.one_of(st.just(path_parameters), real)


URL_FIELDS = {
    "image": IMAGE,
    "start_image_url": IMAGE,
    "end_image_url": IMAGE,
    "audio_url": AUDIO,
    "video_url": VIDEO,
    "webhook_url": HOOK,
}


def _repaired(path: str, body: dict) -> dict:
    """`body` with its URLs usable and the prose rules met; other fields as generated."""
    body = dict(body)
    for name, url in URL_FIELDS.items():
        if name in body:
            body[name] = url
    kind = _kind(path)
    for name, url in (("image_urls", IMAGE), ("video_urls", VIDEO)):
        items = body.get(name)
        if not isinstance(items, list):
            continue
        if kind == "reference-to-video":
            body[name] = [
                {"url": url, **({"reference_voice": AUDIO} if isinstance(i, dict) and "reference_voice" in i else {})}
                for i in items
            ]
        else:
            body[name] = [url for _ in items]
    if kind == "reference-to-video":
        images, videos = body.get("image_urls"), body.get("video_urls")
        images = images if isinstance(images, list) else []
        videos = videos if isinstance(videos, list) else []
        if not images and not videos:
            body["image_urls"] = [{"url": IMAGE}]
        elif len(images) + len(videos) > 5:
            body["image_urls"] = images[:3]
            body["video_urls"] = videos[:2]
    if kind == "image-to-video" and path.endswith("/wan-2-7"):
        # One mode: continue a video, or start from an image.
        if "video_url" in body:
            body.pop("start_image_url", None)
        else:
            body["start_image_url"] = IMAGE
    if body.get("shot_type") == "multi":
        body["enable_prompt_expansion"] = True
    return body


@schemathesis.hook
def flatmap_case(context, case):
    if case.method.upper() != "POST" or not isinstance(case.body, dict):
        return st.just(case)

    # Assigning `case.body` (rather than changing the body in a body hook) makes
    # schemathesis re-validate it, so a negative case that this makes valid is relabelled
    # and its checks expect the right answer.
    def repair(fix: bool):
        if fix:
            case.body = _repaired(case.path, case.body)
        return case

    return st.booleans().map(repair)


def _header(response, name: str) -> str:
    for key, values in response.headers.items():
        if key.lower() == name:
            return values[0] if isinstance(values, list) else values
    return ""


@schemathesis.check
def error_body_is_json_message(ctx, response, case) -> None:
    """Every non-2xx body is a JSON object with a string `message` (contract.md, "Errors")."""
    if response.status_code < 400:
        return
    media = _header(response, "content-type").split(";")[0].strip().lower()
    if media not in ("application/json", "application/problem+json"):
        raise AssertionError(f"{response.status_code} error answered with content type {media!r}, not JSON")
    try:
        body = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(f"{response.status_code} error body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise AssertionError(f"{response.status_code} error body is not a JSON object: {body!r}")
    # The document's problem+json schema wraps the fields in `problem`, its example is flat.
    fields = body.get("problem", body) if media == "application/problem+json" else body
    if not isinstance(fields, dict) or not isinstance(fields.get("message"), str):
        raise AssertionError(f"{response.status_code} error body has no string `message`: {body!r}")
    if media == "application/problem+json":
        params = fields.get("invalid_params")
        if not isinstance(params, list) or not params:
            raise AssertionError(f"problem+json 400 without a non-empty `invalid_params` list: {body!r}")
        for param in params:
            if not (
                isinstance(param, dict)
                and isinstance(param.get("name"), str)
                and isinstance(param.get("reason"), str)
            ):
                raise AssertionError(f"`invalid_params` entry is not {{name, reason}} strings: {param!r}")
