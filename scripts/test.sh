#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need first (idempotent; needs root or sudo for
# apt-get on a fresh Debian machine, and a Rust toolchain from rustup).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the build and tests need: a C compiler (bundled SQLite, zstd) and a C++ one (libFuzzer, for
# fuzz/smoke.sh); ip, nft, python3 and runuser
# for the network-namespace tests; iptables, for the lab's satellite path (NFQUEUE); Prometheus, which a test runs to scrape the collector; nginx and dnsmasq, the
# lab's web and DNS servers; ClickHouse (and ZooKeeper for its cluster test), the store for scale; Chromium,
# the headless browser the status page is tested in.
packages=(gcc g++ libc6-dev iproute2 nftables iptables python3 python3-venv util-linux procps prometheus
  nginx-light dnsmasq-base clickhouse-server clickhouse-client zookeeper chromium curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

# From PyPI, in a venv under target/: pyarrow reads the Parquet exports back in the tests (a reader no one here
# wrote), chDB — the ClickHouse engine of a current release as a library — replays every query the store and
# the dashboards ran on Debian's ClickHouse 18.16, which must run and answer the same there, and feedparser reads
# the Atom feed as a feed reader would.
venv=target/pyarrow-venv
if ! "$venv/bin/python" -c "import pyarrow.parquet, chdb, feedparser" 2>/dev/null; then
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q pyarrow chdb-core==26.9.0 feedparser==6.0.*
fi
export VIGIL_PYTHON=$PWD/$venv/bin/python

# Every test run's output is kept in target/test-logs/, where scripts/check-required-tests.py reads which tests
# ran: a test that cannot run here (no root, no ../shared/data) is reported *ignored* with its reason, and under
# VIGIL_REQUIRE_ALL=1 (CI) fails instead; the check at the end also fails if a test of scripts/required-tests.txt
# is missing from the logs.
logs=target/test-logs
rm -rf "$logs" && mkdir -p "$logs"
logged() { local name=$1; shift; "$@" 2>&1 | tee "$logs/$name.log"; }

# End-to-end tests in tests/ drive the real binaries: build them first.
echo "-- [${SECONDS}s] debug build and tests"
cargo build --workspace --bins --locked
logged workspace cargo test --workspace --locked --all-targets
logged doc cargo test --workspace --locked --doc
# CI artifacts (the status page's screenshot from headless Chromium).
echo "artifacts: $PWD/target/artifacts/"

# The deployment (ansible/): lint, syntax, and — as root — a real apply of both playbooks onto this machine
# against a collector on loopback (needs the release binaries, and the probe as volunteers get it: probe-release).
echo "-- [${SECONDS}s] release builds and the deployment test"
cargo build --workspace --release --bins --locked
cargo build --profile probe-release -p vigil-probe --locked
bash ansible/test.sh

# The end-to-end lab (tests/): a simulated country in network namespaces, driving the release binaries through
# shutdown, power-outage, censorship, throttling and collector-outage scenarios. It needs root.
if [ "$(id -u)" -eq 0 ]; then
  # The privacy audit: a probe behind NAT whose public address is echoed back by what it measures; no store,
  # export or API answer may hold that address.
  echo "-- [${SECONDS}s] the privacy audit and the lab"
  logged privacy_audit cargo test -p vigil-lab --features lab --test privacy_audit --locked
  logged lab cargo test -p vigil-lab --features lab --test lab --locked
else
  echo "SKIPPED: the namespace lab and the privacy audit need root; run them with:"
  echo "  sudo -E cargo test -p vigil-lab --features lab --test privacy_audit --test lab"
fi

echo "-- [${SECONDS}s] tests done"
# What did not run, said once at the end; in CI (VIGIL_REQUIRE_ALL=1) every required test must have run and passed.
grep -h -E "^test .* \.\.\. ignored" "$logs"/*.log | sed 's/^/not run: /' || true
if [ "${VIGIL_REQUIRE_ALL:-}" = 1 ]; then
  python3 scripts/check-required-tests.py "$logs"/*.log
fi
