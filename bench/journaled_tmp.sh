#!/usr/bin/env bash
# Prints a directory on a journaled ext4 filesystem (a loop-mounted image), for the benchmarks' temporary files:
#   TMPDIR=$(bench/journaled_tmp.sh) bench/ingest.sh 4 50 1000 gzip
# Needs root. This machine's root filesystem is ext4 without a journal, where ext4 will not reuse an inode freed
# in the last seconds and scans inode tables for another: ClickHouse creates and deletes dozens of files per
# insert and merge, so there that scan, not ClickHouse, sets the rate (see BENCHMARKS.md).
#   bench/journaled_tmp.sh [IMAGE=/var/tmp/vigil-bench-ext4.img] [MOUNTPOINT=/mnt/vigil-bench]
set -euo pipefail
image=${1:-/var/tmp/vigil-bench-ext4.img}
dir=${2:-/mnt/vigil-bench}
if ! mountpoint -q "$dir"; then
  if [ ! -f "$image" ]; then
    truncate -s 8G "$image"
    mkfs.ext4 -q -F "$image"   # mkfs.ext4's default: a journal
  fi
  mkdir -p "$dir"
  mount -o loop "$image" "$dir"
  chmod 1777 "$dir"
fi
echo "$dir"
