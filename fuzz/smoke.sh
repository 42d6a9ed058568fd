#!/usr/bin/env bash
# A short run of every fuzz target from its committed seed corpus (CI's smoke test; see CONTRIBUTING.md for long
# runs with cargo-fuzz). Builds the targets as `cargo fuzz build --sanitizer none` does — libFuzzer with
# SanitizerCoverage, on the stable compiler — then runs each for FUZZ_SECONDS (default 20). A crash fails the
# script and leaves the input in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-20}
triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --release --locked --target "$triple" --bins
targets=(ndjson_batch compressed_body packets spool_file input_loaders)
for target in "${targets[@]}"; do
  scratch=$(mktemp -d)
  cp corpus/"$target"/* "$scratch"/
  mkdir -p artifacts/"$target"
  echo "== fuzz $target for ${seconds}s"
  "target/$triple/release/$target" "$scratch" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="artifacts/$target/" -print_final_stats=1 2>&1 | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==|SUMMARY|.*panicked)" || true
  # libFuzzer exits non-zero on a crash; PIPESTATUS keeps that.
  status=${PIPESTATUS[0]}
  rm -rf "$scratch"
  if [ "$status" -ne 0 ]; then
    echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
    exit "$status"
  fi
done
echo "fuzz smoke: ${#targets[@]} targets, ${seconds}s each — no crash"
