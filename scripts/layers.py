#!/usr/bin/env python3
"""Imports between src/'s modules must run downhill: no circles.

Reads every `crate::<module>` in src/**/*.rs outside comments and builds two graphs: the
top-level modules (a file counts for the module it is in), and, inside each module's
folder, its files (`crate::<module>::<file>` and `super::<file>`; the folder's `mod.rs` is
the module's face, which its files may use). Fails on any cycle in either, printing it.
`--graph` prints the top-level edges.

    python3 scripts/layers.py [--graph] [SRC_DIR]
"""

import pathlib
import re
import sys

USE = re.compile(r"\bcrate::(\w+)")
GROUPED = re.compile(r"\bcrate::\{([^}]*)\}")


def top_module(path, src):
    parts = path.relative_to(src).parts
    if parts[0] in ("bin", "main.rs", "lib.rs"):
        return None  # entry points wire everything: they are above every module
    return parts[0].removesuffix(".rs")


def code_lines(text):
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        yield line.split("//", 1)[0] if "//" in line and '"' not in line else line


def graph(src):
    edges = {}
    for path in sorted(src.rglob("*.rs")):
        here = top_module(path, src)
        if here is None:
            continue
        edges.setdefault(here, set())
        for line in code_lines(path.read_text()):
            names = USE.findall(line)
            for group in GROUPED.findall(line):
                names += [n.strip().split("::")[0] for n in group.split(",") if n.strip()]
            for name in names:
                if name != here and name not in ("self", "super"):
                    edges[here].add(name)
    return edges


def sibling_graphs(src):
    """{folder: {file: {sibling files it uses}}} for every module folder under src."""
    graphs = {}
    for folder in sorted(p for p in src.iterdir() if p.is_dir() and p.name != "bin"):
        files = {p.stem for p in folder.glob("*.rs") if p.stem != "mod"}
        edges = {name: set() for name in files}
        qualified = re.compile(r"\bcrate::" + folder.name + r"::(\w+)|\bsuper::(\w+)")
        for name in files:
            for line in code_lines((folder / f"{name}.rs").read_text()):
                if line.lstrip().startswith("use super::*"):
                    continue  # a test module's glob import of its own file
                for a, b in qualified.findall(line):
                    used = a or b
                    if used in files and used != name:
                        edges[name].add(used)
        graphs[folder.name] = edges
    return graphs


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def main(argv):
    show = "--graph" in argv
    args = [a for a in argv if a != "--graph"]
    src = pathlib.Path(args[0] if args else "src")
    edges = graph(src)
    if show:
        for v in sorted(edges):
            print(f"{v} -> {', '.join(sorted(edges[v])) or '(nothing)'}")
    found = [("", c, edges) for c in cycles(edges)]
    for folder, files in sibling_graphs(src).items():
        found += [(folder + "/", c, files) for c in cycles(files)]
    print(f"layers: {len(edges)} top-level modules, {len(found)} import circle(s)")
    for prefix, component, graph_ in found:
        inside = [f"{prefix}{v} -> {prefix}{w}" for v in component for w in sorted(graph_[v]) if w in component]
        print(f"  circle: {'; '.join(inside)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
