#!/usr/bin/env python3
"""Fails unless every test in scripts/required-tests.txt ran and passed, judged from cargo test's output.

    python3 scripts/check-required-tests.py LOG [LOG ...]   # the logs scripts/test.sh writes (target/test-logs/)
    python3 scripts/check-required-tests.py --self-test     # proves it fails on an ignored, a failed and a missing test

A test counts only with cargo's own line for it ("test NAME ... ok") under the binary's "Running tests/BIN.rs" line;
"ignored" (with its reason), "FAILED" or no line at all fails the check and is named.
"""
import re
import sys
from pathlib import Path

REQUIRED = Path(__file__).with_name("required-tests.txt")
RUNNING = re.compile(r"^\s*Running (?:\S+/)?([A-Za-z0-9_]+)\.rs \(")
RESULT = re.compile(r"^test (\S+)\s+\.\.\. ?(.*)$")
# A runner that lets its tests print (the lab) writes "test NAME ... ", the test's output, then the outcome alone.
OUTCOME = re.compile(r"^(ok|FAILED|ignored\b.*)$")


def required(text):
    """(binary, test, needs) for each line of the required list."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        binary, test, *needs = line.split()
        out.append((binary, test, " ".join(needs)))
    return out


def outcomes(log):
    """{(binary, test): outcome} from cargo test output; the last word for a test wins."""
    seen = {}
    binary = None
    pending = None
    for line in log.splitlines():
        m = RUNNING.match(line)
        if m:
            binary, pending = m.group(1), None
            continue
        m = RESULT.match(line.strip())
        if m and binary:
            outcome = m.group(2).strip()
            if outcome:
                seen[(binary, m.group(1))] = outcome
                pending = None
            else:
                pending = m.group(1)
            continue
        m = OUTCOME.match(line.strip())
        if m and binary and pending:
            seen[(binary, pending)] = m.group(1)
            pending = None
    return seen


def problems(required_tests, seen):
    bad = []
    for binary, test, needs in required_tests:
        outcome = seen.get((binary, test))
        if outcome is None:
            bad.append(f"{binary}::{test} did not run (needs {needs})")
        elif outcome != "ok":
            bad.append(f"{binary}::{test}: {outcome} (needs {needs})")
    return bad


def self_test():
    listed = required("a t_ok root\na t_ignored root\nb t_failed shared\nb t_missing shared\nd t_told root\n")
    log = "\n".join([
        "     Running tests/a.rs (target/debug/deps/a-0123)",
        "test t_ok             ... ok",  # libtest-mimic pads names
        "test t_ignored ... ignored, needs root",
        "     Running b.rs (target/debug/deps/b-4567)",  # the lab crate prints no tests/ folder
        "test t_failed ... FAILED",
        "     Running tests/c.rs (target/debug/deps/c-89ab)",
        "test t_missing ... ok",  # the right name under another binary does not count
        "     Running d.rs (target/debug/deps/d-cdef)",
        "test t_told        ... ",  # a runner that lets the test print: its outcome comes alone, later
        "t_told: what the test printed",
        "ok",
    ])
    found = problems(listed, outcomes(log))
    expected = ["a::t_ignored", "b::t_failed", "b::t_missing"]
    if [p.split(" ")[0].rstrip(":") for p in found] != expected:
        print(f"check-required-tests self-test FAILED: found {found}", file=sys.stderr)
        return 1
    if problems([listed[0], listed[4]], outcomes(log)):
        print("check-required-tests self-test FAILED: a passing test was refused", file=sys.stderr)
        return 1
    if not problems(listed[4:], outcomes(log.replace("\nok", "\nFAILED"))):
        print("check-required-tests self-test FAILED: a test whose outcome came alone failed unseen", file=sys.stderr)
        return 1
    print("check-required-tests self-test: an ignored, a failed and a missing test are each refused; an outcome on a "
          "line of its own is read")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    seen = {}
    for path in argv[1:]:
        seen.update(outcomes(Path(path).read_text(errors="replace")))
    listed = required(REQUIRED.read_text())
    bad = problems(listed, seen)
    if bad:
        print(f"required tests did not all run and pass ({len(bad)} of {len(listed)}):", file=sys.stderr)
        for line in bad:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"required tests: all {len(listed)} ran and passed ({REQUIRED.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
