#!/usr/bin/env bash
# Fuzzes freepik-wan-sim with schemathesis, driven by Magnific's (formerly Freepik's)
# published OpenAPI document, filtered (in memory, by hooks.py) to its 51 Wan operations:
# 17 models, each with create, list and status. See README.md beside this file.
#
# usage: fuzz/sim-schemathesis/run.sh [--quick] [--reference PATH] [--seed N] [-- SCHEMATHESIS ARGS...]
#
#   --quick           a minute or two instead of several (fewer examples per operation)
#   --reference PATH  the document to read (default: $FREEPIK_WAN_REFERENCE, else
#                     ../shared/reference/magnific-api-v1-openapi.yaml from the repo root)
#   --seed N          schemathesis's seed (default: $SIM_FUZZ_SEED, else 20260101), so a
#                     run can be replayed; pass a new one to explore further
#   -- ARGS           passed to `schemathesis run` as they are, after this script's own
#
# Exits non-zero on any schemathesis failure or error, or when summarize.py finds the run
# did not reach what it is meant to test. Everything it writes goes under
# target/sim-schemathesis/ (the venv, and one directory per run with the server's log and
# schemathesis's reports).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

# Pinned: checks, phases and report formats change between schemathesis releases, and this
# is the version the figures in README.md come from.
schemathesis_version=4.32.5
reference=${FREEPIK_WAN_REFERENCE:-$root/../shared/reference/magnific-api-v1-openapi.yaml}
seed=${SIM_FUZZ_SEED:-20260101}
quick=0
extra=()
while (($#)); do
    case $1 in
        --quick) quick=1 ;;
        --reference) reference=${2:?--reference needs a path}; shift ;;
        --reference=*) reference=${1#*=} ;;
        --seed) seed=${2:?--seed needs a number}; shift ;;
        --seed=*) seed=${1#*=} ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [[ ! -f $reference ]]; then
    echo "run.sh: no reference description at $reference" >&2
    echo "        (set FREEPIK_WAN_REFERENCE or pass --reference PATH)" >&2
    exit 2
fi
reference=$(cd "$(dirname "$reference")" && pwd)/$(basename "$reference")

# Per operation, and there are 51: the full run stays within CI's 15 minutes on 2 cores.
if ((quick)); then
    max_examples=40
else
    max_examples=250
fi

work=$root/target/sim-schemathesis
venv=$work/venv
run_dir=$work/run-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$run_dir"

# --- schemathesis, in a venv of its own (target/ is gitignored) ---------------------------
python=${PYTHON:-python3}
if [[ ! -x $venv/bin/schemathesis ]] ||
    [[ $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null) != "$schemathesis_version" ]]; then
    echo "==> installing schemathesis $schemathesis_version into $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi

# --- the simulator ---------------------------------------------------------------------
echo "==> building the serve example"
nice -n 10 cargo build --quiet --manifest-path "$root/Cargo.toml" -p freepik-wan-sim --example serve
serve=${CARGO_TARGET_DIR:-$root/target}/debug/examples/serve

# Port 0: the server picks a free loopback port and prints it, so no other process can
# take the port between choosing and binding it.
#  - processing 300 ms: tasks created by hooks.py are COMPLETED or FAILED before the
#    fuzzing starts, while the stateful phase still sees CREATED and IN_PROGRESS;
#  - failure rate 0.3: FAILED tasks get their `task-detail` checked too;
#  - a fixed fault seed: which tasks fail replays with the schemathesis seed.
: >"$run_dir/serve.out"  # exists before the loop below reads it, whoever runs first
"$serve" --port 0 --processing-ms 300 --task-failure-rate 0.3 --seed 7 \
    >"$run_dir/serve.out" 2>"$run_dir/serve.err" &
server_pid=$!
stop_server() {
    if kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM

base_url=
for _ in $(seq 100); do
    base_url=$(sed -n 's/^base_url=//p' "$run_dir/serve.out")
    [[ -n $base_url ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "run.sh: the simulator exited:" >&2
        cat "$run_dir/serve.err" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z $base_url ]]; then
    echo "run.sh: the simulator printed no base URL within 10 s" >&2
    exit 1
fi
api_key=$(sed -n 's/^api_key=//p' "$run_dir/serve.out")
echo "==> simulator at $base_url (log: $run_dir/serve.err)"

# --- the fuzzer ------------------------------------------------------------------------
# Checks: all of schemathesis's but positive_data_acceptance (see README.md: the document
# lets media inputs be any string or URI and states some rules only in prose, so
# schema-valid creates are rightly refused), plus
# hooks.py's error_body_is_json_message. Run from the run directory so that nothing
# schemathesis writes by default lands in the work tree (nor, with
# PYTHONDONTWRITEBYTECODE, a __pycache__ beside hooks.py).
echo "==> schemathesis $schemathesis_version: $max_examples examples per operation, seed $seed, reference $reference"
started=$(date +%s)
set +e
(
    cd "$run_dir" &&
        PYTHONDONTWRITEBYTECODE=1 SIM_BASE_URL=$base_url SIM_API_KEY=$api_key SCHEMATHESIS_HOOKS=$here/hooks.py \
            "$venv/bin/schemathesis" run "$reference" \
            --url "$base_url" \
            --header "x-magnific-api-key: $api_key" \
            --checks all \
            --exclude-checks positive_data_acceptance \
            --max-examples "$max_examples" \
            --seed "$seed" \
            --request-timeout 10 \
            --generation-database none \
            --report ndjson,junit \
            --report-dir "$run_dir" \
            "${extra[@]}"
)
fuzz_status=$?
set -e
elapsed=$(($(date +%s) - started))

echo "==> figures (also in $run_dir/summary.txt)"
summary_status=0
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" "$here/summarize.py" "$run_dir"/ndjson-*.ndjson >"$run_dir/summary.txt" || summary_status=$?
echo "wall time of the schemathesis run: ${elapsed} s" >>"$run_dir/summary.txt"
cat "$run_dir/summary.txt"

# Old runs go, the last few stay. The NDJSON report records every response, and list
# bodies grow with every task created, so a full run's report is some 400 MB: it is kept
# only when the run failed, where it is the evidence.
find "$work" -maxdepth 1 -name 'run-*' -type d | sort | head -n -5 | xargs -r rm -rf
if ((fuzz_status != 0 || summary_status != 0)); then
    echo "==> FAILED (schemathesis exit $fuzz_status, summary exit $summary_status); reports in $run_dir" >&2
    exit 1
fi
rm -f "$run_dir"/ndjson-*.ndjson
echo "==> passed; summary and JUnit report in $run_dir"
