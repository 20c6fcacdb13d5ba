"""Reads schemathesis's NDJSON event report and prints the run's figures; fails a run that
passed without testing what it is meant to test.

usage: summarize.py REPORT.ndjson

Figures: operations, test cases per phase and operation, requests, responses per
operation and status, task statuses seen in 200 bodies, and every check's passes and
failures. Schemathesis's own summary gives only totals.

Exit status 1 when a floor is not met: a green run is only evidence if it got there. The
floors are what hooks.py and run.sh's server settings exist to reach, for every Wan
operation of the document (each model's create answered 200 and 400, its list 200, its
status 404 and COMPLETED; FAILED somewhere; a 401), so a change in schemathesis, the
document or the simulator that quietly skips them is caught here.
"""

from __future__ import annotations

import base64
import collections
import json
import sys

TASK_SUFFIX = "/{task-id}"


def body_json(content):
    if not content:
        return None
    raw = base64.b64decode(content["$base64"]) if "$base64" in content else content.encode()
    try:
        return json.loads(raw)
    except ValueError:
        return None


def main(path: str) -> int:
    operations = 0
    duration = 0.0
    cases = collections.Counter()  # (phase, operation label)
    responses = collections.Counter()  # (operation label, status)
    task_statuses = collections.Counter()  # (operation label, data.status)
    checks = collections.defaultdict(collections.Counter)  # name -> {status: n}
    requests = 0
    with open(path, encoding="utf-8") as events:
        for line in events:
            event = json.loads(line)
            if "LoadingFinished" in event:
                operations = event["LoadingFinished"]["statistic"]["operations"]["selected"]
            elif "EngineFinished" in event:
                duration = event["EngineFinished"]["running_time"]
            elif "ScenarioFinished" in event:
                finished = event["ScenarioFinished"]
                recorder = finished["recorder"]
                for case_id, node in recorder.get("cases", {}).items():
                    value = node["value"]
                    label = f'{value["method"]} {value["path"]}'
                    cases[(finished["phase"], label)] += 1
                    interaction = recorder.get("interactions", {}).get(case_id)
                    if interaction is None or interaction.get("response") is None:
                        continue
                    requests += 1
                    response = interaction["response"]
                    responses[(label, response["status_code"])] += 1
                    if response["status_code"] == 200:
                        data = (body_json(response.get("content")) or {}).get("data")
                        for task in data if isinstance(data, list) else [data]:
                            if isinstance(task, dict):
                                task_statuses[(label, task.get("status"))] += 1
                for results in recorder.get("checks", {}).values():
                    for result in results:
                        checks[result["name"]][result["status"]] += 1

    print(f"operations: {operations}; engine running time: {duration:.1f} s; requests with a response: {requests}")
    print("test cases (phase, operation):")
    for (phase, label), n in sorted(cases.items()):
        print(f"  {phase:10} {label:55} {n}")
    print("responses (operation, status):")
    for (label, status), n in sorted(responses.items()):
        print(f"  {label:55} {status} {n}")
    print("task statuses in 200 bodies (operation, status):")
    for (label, status), n in sorted(task_statuses.items(), key=str):
        print(f"  {label:55} {status} {n}")
    print("checks (name: passed / failed):")
    for name, counts in sorted(checks.items()):
        other = {k: v for k, v in counts.items() if k not in ("success", "failure")}
        extra = f" {other}" if other else ""
        print(f"  {name:30} {counts['success']:6} / {counts['failure']}{extra}")

    # The coverage phase also probes methods an operation does not have (POST on a
    # status path, DELETE, ...): those are not operations of the document.
    uploads = "POST /v1/ai/uploads/request-url"
    labels = {
        label
        for _, label in cases
        if (label.startswith("GET ") and not label.endswith(uploads.removeprefix("POST ")))
        or (label.startswith("POST ") and not label.endswith(TASK_SUFFIX))
    }
    creates = sorted(label for label in labels if label.startswith("POST ") and label != uploads)
    floors = {
        f"{uploads} answered 200": responses[(uploads, 200)] > 0,
        f"{uploads} answered 400": responses[(uploads, 400)] > 0,
    }
    for create in creates:
        collection = create.removeprefix("POST ")
        get_task, listing = f"GET {collection}{TASK_SUFFIX}", f"GET {collection}"
        floors[f"{create} answered 200"] = responses[(create, 200)] > 0
        floors[f"{create} answered 400"] = responses[(create, 400)] > 0
        floors[f"{listing} answered 200"] = responses[(listing, 200)] > 0
        floors[f"{get_task} answered 404"] = responses[(get_task, 404)] > 0
        floors[f"{get_task} answered a COMPLETED task"] = task_statuses[(get_task, "COMPLETED")] > 0
    floors |= {
        "every selected operation was tested": operations > 0 and len(labels) == operations,
        "a task detail FAILED": any(
            status == "FAILED" and label.endswith(TASK_SUFFIX) for (label, status) in task_statuses
        ),
        "a request without the key answered 401": any(status == 401 for (_, status), _ in responses.items()),
        "response_schema_conformance ran": checks["response_schema_conformance"]["success"] > 0,
        "error_body_is_json_message ran": checks["error_body_is_json_message"]["success"] > 0,
    }
    missed = [name for name, met in floors.items() if not met]
    for name in missed:
        print(f"FLOOR NOT MET: {name}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
