"""Schemathesis hooks for fuzzing freepik-wan-sim; run.sh loads them via SCHEMATHESIS_HOOKS.

Three things the published description alone cannot give the fuzzer:

1. An in-memory overlay on the reference description (never written to disk, so the
   reference is only ever read from shared/): the statuses the contract calls real but
   Freepik does not document (404 for an unknown task, 413 for an oversized create body),
   and `nullable` on the optional create fields, which the simulator reads as absent.
2. Finished tasks to ask for: the ids schemathesis itself feeds GET {task-id} (captured
   from create and list answers) mostly belong to tasks still CREATED, so the 200
   `task-detail` shape with `generated` URIs (COMPLETED) and FAILED would seldom be checked.
   Tasks made here at load time have finished by the time they are asked for.
3. A check the description cannot express: every error body is JSON with a string
   `message`, and a problem+json 400 lists `invalid_params` as {name, reason} strings,
   flat or wrapped in `problem` (the contract accepts both).

Configuration comes from run.sh through the environment: SIM_BASE_URL, SIM_API_KEY.
"""

from __future__ import annotations

import json
import os
import urllib.request

import schemathesis
from hypothesis import strategies as st

COLLECTION = "/v1/ai/image-to-video/wan-v2-2-580p"
TASK_PATH = COLLECTION + "/{task-id}"
# The smallest body the simulator accepts; it never fetches the URL.
VALID_CREATE = {"image": "https://img.freepik.com/free-photo/sample.jpg"}
# Enough tasks that, with run.sh's failure rate, both terminal statuses turn up.
SEEDED_TASKS = 8

MESSAGE_ONLY = {
    "type": "object",
    "properties": {"message": {"type": "string"}},
    "required": ["message"],
}


def _undocumented(description: str) -> dict:
    return {
        "description": description + " (not in Freepik's document; added by hooks.py)",
        "content": {"application/json": {"schema": MESSAGE_ONLY}},
    }


@schemathesis.hook
def before_load_schema(context, raw_schema: dict) -> None:
    paths = raw_schema["paths"]
    # Real for any HTTP API (contract.md, "Errors"); the simulator answers
    # {"message": "Task not found"} for an unknown or another key's task.
    paths[TASK_PATH]["get"]["responses"]["404"] = _undocumented("Not Found - unknown task")
    # The simulator's body limit (16 MiB, room for a 10 MB image in base64).
    paths[COLLECTION]["post"]["responses"]["413"] = _undocumented("Payload Too Large")

    # validate.rs `present`: JSON null on an optional field counts as absent, a deliberate
    # leniency (serializers emit null for "unset"). Said here so that the
    # negative_data_rejection check tests every other rule instead of flagging this one.
    schemas = raw_schema["components"]["schemas"]
    base = schemas["wan-v22-base"]
    for name, prop in list(base["properties"].items()):
        if name in base.get("required", []):
            continue
        if "$ref" in prop:
            # OpenAPI 3.0 ignores the siblings of a $ref: inline a copy instead.
            prop = dict(schemas[prop["$ref"].rsplit("/", 1)[1]])
        prop = {**prop, "nullable": True}
        if "enum" in prop:
            # `nullable` does not add null to an enum (OpenAPI 3.0.3 clarification).
            prop["enum"] = [*prop["enum"], None]
        base["properties"][name] = prop


def _call(method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        os.environ["SIM_BASE_URL"] + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"x-freepik-api-key": os.environ["SIM_API_KEY"], "content-type": "application/json"},
    )
    # The simulator is on loopback: an environment proxy would only get in the way.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return json.load(response)


# Made when schemathesis loads this file, before any phase starts: by the time the GETs
# below run, run.sh's short processing time has moved them to COMPLETED or FAILED.
SEEDED_IDS = [_call("POST", COLLECTION, VALID_CREATE)["data"]["task_id"] for _ in range(SEEDED_TASKS)]


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    if context.operation is None or context.operation.path != TASK_PATH:
        return st.just(path_parameters)
    # Half the cases keep the fuzzed id (404 path, odd bytes in the path), half ask for a
    # real task, so both answers are checked throughout the run.
    real = st.sampled_from(SEEDED_IDS).map(lambda task_id: {**path_parameters, "task-id": task_id})
    return st.one_of(st.just(path_parameters), real)


@schemathesis.hook
def flatmap_case(context, case):
    if case.method.upper() != "POST" or not isinstance(case.body, dict):
        return st.just(case)

    # The document allows any string as `image`, so nearly every generated create dies on
    # the image check and the other fields' rules and the 200 `task` shape go untested.
    # Half the cases get an acceptable image. Assigning `case.body` (rather than changing
    # the body in a body hook) makes schemathesis re-validate it, so a negative case that
    # this makes valid is relabelled and its checks expect the right answer.
    def with_image(fix: bool):
        if fix:
            case.body = {**case.body, "image": VALID_CREATE["image"]}
        return case

    return st.booleans().map(with_image)


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
