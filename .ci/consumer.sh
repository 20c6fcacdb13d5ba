#!/usr/bin/env bash
# Builds and tests .ci/consumer (a user's project) against the `.crate` files
# in $1: each is unpacked, and `[patch.crates-io]` points the project's
# version requirements at the unpacked packages, so nothing comes from the
# tree. If freepik-wan-cli is among them, its package is built the same way
# (as `cargo install` from crates.io would) and the README's main job is run
# with that binary against its built-in simulator.
# This is what `cargo package`'s verification would check, built once per
# crate instead of once per crate and dependent.
# Usage: consumer.sh PACKAGE_DIR CRATE...
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
patches=()
cli=
for crate in "$@"; do
  file=$(ls "$packages/$crate"-[0-9]*.crate)
  tar -xzf "$file" -C "$work/packaged"
  dir="$work/packaged/$(basename "$file" .crate)"
  if [ "$crate" = freepik-wan-cli ]; then
    cli=$dir
  else
    patches+=("$crate" "$dir")
  fi
done
{
  echo
  echo "[patch.crates-io]"
  for ((i = 0; i < ${#patches[@]}; i += 2)); do
    echo "${patches[i]} = { path = \"${patches[i + 1]}\" }"
  done
} >>"$work/consumer/Cargo.toml"
# Shares the workspace's target dir: registry dependencies built there are reused.
export CARGO_TARGET_DIR="$root/target"
(cd "$work/consumer" && cargo test)

if [ -n "$cli" ]; then
  config=()
  for ((i = 0; i < ${#patches[@]}; i += 2)); do
    config+=(--config "patch.crates-io.${patches[i]}.path=\"${patches[i + 1]}\"")
  done
  (cd "$cli" && cargo build "${config[@]}")
  bin="$CARGO_TARGET_DIR/debug/freepik-wan"
  "$bin" --version
  "$bin" generate --simulate --image "$root/assets/sample.jpg" \
    --prompt "the camera slowly pushes in" --out "$work/sample.mp4"
  "$bin" generate --simulate --model text-to-video/wan-2-7 \
    --prompt "a lighthouse at dusk" --out "$work/t2v.mp4"
  for video in "$work/sample.mp4" "$work/t2v.mp4"; do
    if [ "$(head -c 8 "$video" | tail -c 4)" != ftyp ]; then
      echo "the packaged CLI wrote $video, which is not an MP4" >&2
      exit 1
    fi
  done
fi
