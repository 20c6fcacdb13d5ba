#!/usr/bin/env bash
# Builds and tests .ci/consumer (a user's project) against the `.crate` files
# in $1: each is unpacked, and `[patch.crates-io]` points the project's
# version requirements at the unpacked packages, so nothing comes from the
# tree. Usage: consumer.sh PACKAGE_DIR CRATE...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
packages=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$root/.ci/consumer" "$work/consumer"
# The workspace's lock file, so the same dependency versions are used (and
# already built); cargo adds what the consumer needs beyond it.
cp "$root/Cargo.lock" "$work/consumer/Cargo.lock"
mkdir "$work/packaged"
{
  echo
  echo "[patch.crates-io]"
  for crate in "$@"; do
    file=$(ls "$packages/$crate"-[0-9]*.crate)
    tar -xzf "$file" -C "$work/packaged"
    dir=$(basename "$file" .crate)
    echo "$crate = { path = \"$work/packaged/$dir\" }"
  done
} >>"$work/consumer/Cargo.toml"
cd "$work/consumer"
# Shares the workspace's target dir: registry dependencies built there are reused.
CARGO_TARGET_DIR="$root/target" cargo test
