#!/usr/bin/env bash
# The classifier on real RIPE Atlas days, as anyone can rerun it: each day's connection log is imported into a
# fresh store and classified (`vigil-collector eval ripe-atlas`), and its events are printed against the log's own
# bursts (≥ 10 probes of one ASN leaving together) and Disco's detections — on SQLite and on ClickHouse (Debian's
# clickhouse-server, started here on loopback). Then the speed: a day imported and classified, and thirty days
# (the dev days repeated, shifted a day at a time) imported one by one and classified in one run, each under GNU
# time (wall seconds, peak RSS). EVALUATION.md records the tables, BENCHMARKS.md the times.
#   bench/replay_ripe_atlas.sh [DATA_DIR=../shared/data/ripe-atlas] [STORES="sqlite clickhouse"] [DAYS=30]
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(realpath "${1:-../shared/data/ripe-atlas}"); stores=${2:-"sqlite clickhouse"}; days=${3:-30}
[ -d "$data" ] || { echo "no RIPE Atlas data at $data" >&2; exit 2; }

source bench/common.sh   # bin, work, cleanup, start_clickhouse
disco=$data/disco-top-events-2011-2016.txt
logs=("$data"/connections-*.json)

# store_for KIND NAME: a fresh store of that kind.
declare -A clickhouse_url
store_for() {
  case $1 in
    sqlite) echo "sqlite:$work/$2.db" ;;
    clickhouse)
      [ -n "${clickhouse_url[x]:-}" ] || clickhouse_url[x]=$(start_clickhouse "$work/clickhouse")
      echo "${clickhouse_url[x]%/*}/$2" ;;
  esac
}

timed() { /usr/bin/time -o "$work/time" -f "%e %M" "$@"; read -r secs rss < "$work/time"; }

for kind in $stores; do
  store_for "$kind" warmup > /dev/null   # a ClickHouse server started before anything is timed
  for log in "${logs[@]}"; do
    day=$(basename "$log" .json); day=${day#connections-}
    store=$(store_for "$kind" "day_${day//-/_}")
    echo "== $kind $day: vigil-collector eval ripe-atlas $(basename "$log") --disco $(basename "$disco")"
    timed "$bin" eval ripe-atlas "$log" --disco "$disco" --store "$store" 2> "$work/eval.err" > "$work/eval.out" \
      || { cat "$work/eval.err"; exit 1; }
    cat "$work/eval.out"
    echo "store=$kind day=$day import_and_classify_seconds=$secs peak_rss_kib=$rss"
  done
done

# Thirty days: the dev days in turn, each shifted to the next day, imported one by one, then classified at once.
python3 - "$work/month" "$days" "${logs[@]}" <<'PY'
import json, os, sys
out, days, logs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
os.makedirs(out, exist_ok=True)
base = 1451606400  # 2016-01-01
loaded = [json.load(open(p)) for p in logs]
for d in range(days):
    events = loaded[d % len(loaded)]
    first = min(e["timestamp"] for e in events) // 86400 * 86400
    shifted = [dict(e, timestamp=e["timestamp"] - first + base + d * 86400) for e in events]
    json.dump(shifted, open(f"{out}/day-{d:02}.json", "w"))
PY
events=$(python3 -c "import json,glob; print(sum(len(json.load(open(p))) for p in glob.glob('$work/month/*.json')))")
for kind in $stores; do
  store=$(store_for "$kind" month)
  start=$(date +%s.%N)
  for f in "$work"/month/day-*.json; do
    "$bin" import ripe-atlas-connections "$f" --store "$store" > /dev/null 2>&1
  done
  imported=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
  timed "$bin" classify --from 2016-01-01T00:00:00Z --to "$(date -u -d "2016-01-01 + $days days" +%FT%TZ)" --store "$store" \
    > "$work/classify.out" 2> "$work/classify.err" || { cat "$work/classify.err"; exit 1; }
  echo "store=$kind days=$days events=$events import_seconds=$imported classify_seconds=$secs classify_peak_rss_kib=$rss $(cat "$work/classify.out")"
done
