"""Replays what the collector ran on Debian's ClickHouse 18.16 on a current ClickHouse release (chDB, the
ClickHouse engine as a library, from PyPI): creates the tables, loads the rows, runs every query.

Reads JSON on stdin: {"database", "setup": [DDL], "tables": {name: TabSeparated rows}, "queries": [SQL],
"parse_only": [SQL]}. Writes JSON: {"version", "results": [{"sql", "ok", "answer"}]} — one result per query
(answer: TabSeparated rows, or the error), then one per statement only parsed (EXPLAIN AST).
"""

import json
import os
import sys
import tempfile

from chdb import session


def main():
    request = json.load(sys.stdin)
    db = session.Session(tempfile.mkdtemp(prefix="chdb-"))

    def run(sql, fmt="TabSeparated"):
        try:
            answer = db.query(sql, fmt)
            error = answer.error_message() if hasattr(answer, "error_message") else ""
            if error:
                return False, error
            return True, answer.bytes().decode("utf-8", "replace")
        except Exception as e:  # chDB raises the server's exception text
            return False, str(e)

    version = run("SELECT version()")[1].strip()
    database = request["database"]
    for sql in [f"CREATE DATABASE IF NOT EXISTS {database}", f"USE {database}"] + request["setup"]:
        ok, answer = run(sql)
        if not ok:
            print(json.dumps({"version": version, "setup_failed": {"sql": sql, "answer": answer}}))
            return
    for table, rows in request["tables"].items():
        if rows:
            ok, answer = run(f"INSERT INTO {table} FORMAT TabSeparated\n{rows}")
            if not ok:
                print(json.dumps({"version": version, "setup_failed": {"sql": f"load {table}", "answer": answer}}))
                return
    results = []
    for sql in request["queries"]:
        ok, answer = run(sql)
        results.append({"sql": sql, "ok": ok, "answer": answer})
    for sql in request["parse_only"]:
        ok, answer = run(f"EXPLAIN AST {sql}")
        results.append({"sql": sql, "ok": ok, "answer": answer})
    print(json.dumps({"version": version, "results": results}))
    sys.stdout.flush()
    os._exit(0)


main()
