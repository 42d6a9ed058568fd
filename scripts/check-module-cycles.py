#!/usr/bin/env python3
"""Fails when the top-level modules of a crate import each other in a circle.

Usage: check-module-cycles.py SRC_DIR [SRC_DIR ...]   (e.g. collector/src probe/src)
       check-module-cycles.py --self-test

A top-level module is a file `SRC/name.rs` or a folder `SRC/name/`. An edge `a -> b` is any `crate::b` path
written in a file of `a` (in `use` lists, braces included, and in qualified paths), outside comments. `lib.rs` and
`main.rs` (the crate root, whose job is to name everything) are not modules. Test code counts too: a `#[cfg(test)]`
module that reaches back is still an arrow running the wrong way.

Prints the graph and every strongly connected component of more than one module; exits 1 if there is any.
"""
import re
import sys
import tempfile
from pathlib import Path

ROOTS = {"lib.rs", "main.rs"}


def strip_comments(text: str) -> str:
    """Drops `//` line comments (doc comments included) and `/* */` blocks; string contents are left alone."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] if "//" in line and '"' not in line.split("//", 1)[0] else line
                     for line in text.splitlines())


def crate_paths(text: str) -> set:
    """Every first segment after `crate::`, expanding `crate::{a, b::c}` groups."""
    found = set()
    for match in re.finditer(r"\bcrate::(\{|[A-Za-z_][A-Za-z0-9_]*)", text):
        if match.group(1) != "{":
            found.add(match.group(1))
            continue
        depth, start, i = 1, match.end(), match.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        inner = text[start:i - 1]
        # Top-level items of the group: split on commas at depth 0.
        depth, item = 0, ""
        for ch in inner + ",":
            if ch == "," and depth == 0:
                head = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)", item)
                if head:
                    found.add(head.group(1))
                item = ""
                continue
            depth += {"{": 1, "}": -1}.get(ch, 0)
            item += ch
    return found


def graph_of(src: Path) -> dict:
    modules = {p.stem for p in src.glob("*.rs") if p.name not in ROOTS} | {p.name for p in src.iterdir() if p.is_dir()}
    edges = {m: set() for m in modules}
    for module in modules:
        files = [src / f"{module}.rs"] if (src / f"{module}.rs").exists() else []
        if (src / module).is_dir():
            files += sorted((src / module).rglob("*.rs"))
        for file in files:
            for target in crate_paths(strip_comments(file.read_text())):
                if target in modules and target != module:
                    edges[module].add(target)
    return edges


def cycles(edges: dict) -> list:
    """Tarjan's strongly connected components with more than one member."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def check(src: Path) -> bool:
    edges = graph_of(src)
    print(f"== {src}")
    for module in sorted(edges):
        print(f"  {module} -> {', '.join(sorted(edges[module])) or '(nothing)'}")
    found = cycles(edges)
    for component in found:
        inside = [f"{a} -> {b}" for a in component for b in sorted(edges[a]) if b in component]
        print(f"  CYCLE among {', '.join(component)}: {'; '.join(inside)}")
    return not found


def self_test() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp)
        (src / "lib.rs").write_text("pub mod a; pub mod b; pub mod c;")
        (src / "a.rs").write_text("use crate::{b::X, c};\n// crate::c in a comment\n")
        (src / "b.rs").write_text("use crate::c::Y;\n")
        (src / "c").mkdir()
        (src / "c" / "mod.rs").write_text("/// see crate::a\nfn f() {}\n")
        assert graph_of(src) == {"a": {"b", "c"}, "b": {"c"}, "c": set()}, graph_of(src)
        assert cycles(graph_of(src)) == []
        (src / "c" / "inner.rs").write_text("fn g() { crate::a::h(); }\n")
        assert cycles(graph_of(src)) == [["a", "b", "c"]], cycles(graph_of(src))
    print("check-module-cycles self-test: ok")


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        sys.exit(0)
    if not sys.argv[1:]:
        sys.exit(__doc__)
    ok = all([check(Path(arg)) for arg in sys.argv[1:]])
    sys.exit(0 if ok else 1)
