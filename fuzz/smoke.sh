#!/usr/bin/env bash
# A short run of every fuzz target from its committed seed corpus (CI's smoke test; see CONTRIBUTING.md for long
# runs with cargo-fuzz). Builds the targets as `cargo fuzz build --sanitizer none` does — libFuzzer with
# SanitizerCoverage, on the stable compiler — then runs each for FUZZ_SECONDS (default 20). A crash fails the
# script and leaves the input in fuzz/artifacts/TARGET/.
#
# Before the real targets it runs a self-test: the `selftest_canary` target with a planted crashing input must be
# reported as a crash by the same function that runs the real targets; if it is not, the script fails (a smoke
# test that cannot see a crash is worse than none). `bash fuzz/smoke.sh --self-test` runs only that.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-20}
triple=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --profile smoke --locked --target "$triple" --bins

# run_target NAME CORPUS_DIR ARTIFACT_DIR: fuzzes NAME from a copy of CORPUS_DIR; returns the fuzzer's own exit
# status (non-zero on a crash, a leak or a timeout), whatever the filter of its output does.
run_target() {
  local target=$1 corpus=$2 artifacts=$3 scratch status
  scratch=$(mktemp -d)
  cp "$corpus"/* "$scratch"/
  mkdir -p "$artifacts"
  set +e
  "target/$triple/smoke/$target" "$scratch" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$scratch.log" 2>&1
  status=$?
  set -e
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==|SUMMARY|.*panicked)" "$scratch.log" || true
  rm -rf "$scratch" "$scratch.log"
  return "$status"
}

echo "== self-test: a planted crash must fail the run"
canary=$(mktemp -d)
printf 'VIGIL-CANARY planted crash' >"$canary/crash"
canary_artifacts=$(mktemp -d)
if run_target selftest_canary "$canary" "$canary_artifacts"; then
  echo "fuzz smoke self-test FAILED: the planted crash was reported as a clean run; crashes would go unnoticed" >&2
  exit 1
fi
if ! ls "$canary_artifacts"/crash-* >/dev/null 2>&1; then
  echo "fuzz smoke self-test FAILED: the planted crash left no artifact in $canary_artifacts" >&2
  exit 1
fi
rm -rf "$canary" "$canary_artifacts"
echo "self-test: the planted crash failed the run and left its input, as a real crash would"
[ "${1:-}" = "--self-test" ] && exit 0

targets=(ndjson_batch compressed_body packets spool_file input_loaders)
for target in "${targets[@]}"; do
  echo "== fuzz $target for ${seconds}s"
  status=0
  run_target "$target" corpus/"$target" artifacts/"$target" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "fuzz target $target failed (exit $status); the input is in fuzz/artifacts/$target/" >&2
    exit "$status"
  fi
done
echo "fuzz smoke: ${#targets[@]} targets, ${seconds}s each — no crash"
