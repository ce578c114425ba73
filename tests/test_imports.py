"""The house (issue 22, item 6): no import circles among bot/, index/ and scripts/, and no module
over 700 lines.

The import graph is read with `ast` from every `import` / `from ... import` anywhere in a file,
lazy imports inside functions included (a lazy import back up is still a circle, only a later
one). Relative imports are resolved against their package; the scripts import each other by
bare name (they put scripts/ on sys.path) or as `scripts.NAME`, and both resolve to
scripts/NAME.py. Imports of anything outside the three trees are left out.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREES = ("bot", "index", "scripts")
MAX_LINES = 700


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the three trees."""
    out: dict[str, Path] = {}
    for tree in TREES:
        for path in sorted((root / tree).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _is_package(name: str, files: dict[str, Path]) -> bool:
    return files[name].name == "__init__.py"


def _resolve(name: str, files: dict[str, Path], importer: str) -> str | None:
    """The known module a dotted import name refers to, or None for anything outside."""
    candidates = [name]
    if importer.startswith("scripts.") and not name.startswith(("bot.", "index.", "scripts.")):
        candidates.append(f"scripts.{name}")  # scripts/ is on sys.path in every script
    for cand in candidates:
        if cand in files:
            return cand
    return None


def _with_parents(name: str, files: dict[str, Path]) -> list[str]:
    """Importing a.b.c runs a/__init__ and a/b/__init__ first."""
    parts = name.split(".")
    return [p for p in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if p in files]


def imports_of(name: str, files: dict[str, Path]) -> set[str]:
    """The known modules that module `name` imports anywhere in its file."""
    tree = ast.parse(files[name].read_text(encoding="utf-8"), filename=str(files[name]))
    package = name if _is_package(name, files) else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name, files, name)
                if target:
                    found.update(_with_parents(target, files))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".") if package else []
                if node.level > 1:
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            target = _resolve(base, files, name)
            if target:
                found.update(_with_parents(target, files))
                for alias in node.names:  # `from bot.slack import listeners` names a module
                    sub = _resolve(f"{target}.{alias.name}", files, name)
                    if sub:
                        found.add(sub)
    found.discard(name)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = module_files(root)
    return {name: imports_of(name, files) for name in files}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative, so deep graphs cannot overflow)."""
    index_of: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index_of:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index_of[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph:
                    continue
                if child not in index_of:
                    index_of[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index_of[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index_of[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def test_tarjan_finds_a_circle_and_leaves_a_chain_alone():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    comps = sorted(c for c in strongly_connected(graph) if len(c) > 1)
    assert comps == [["a", "b", "c"]]
    assert all(len(c) == 1 for c in strongly_connected({"a": {"b"}, "b": {"c"}, "c": set()}))


def test_graph_reads_lazy_relative_and_script_imports(tmp_path):
    (tmp_path / "bot" / "slack").mkdir(parents=True)
    (tmp_path / "index").mkdir()
    (tmp_path / "scripts").mkdir()
    for p in ("bot/__init__.py", "bot/slack/__init__.py", "index/__init__.py"):
        (tmp_path / p).write_text("")
    (tmp_path / "bot/doctor.py").write_text("def f():\n    from bot.slack.run import x\n")
    (tmp_path / "bot/slack/run.py").write_text("from . import app\n")
    (tmp_path / "bot/slack/app.py").write_text("from ..doctor import f\nimport index.embed\n")
    (tmp_path / "index/embed.py").write_text("import numpy\n")
    (tmp_path / "scripts/a.py").write_text("from b import y\n")
    (tmp_path / "scripts/b.py").write_text("def g():\n    import scripts.a\n    from lib.c import z\n")
    (tmp_path / "scripts/lib").mkdir()
    (tmp_path / "scripts/lib/__init__.py").write_text("")
    (tmp_path / "scripts/lib/c.py").write_text("from .d import w\n")
    (tmp_path / "scripts/lib/d.py").write_text("")
    graph = import_graph(tmp_path)
    assert graph["bot.slack.app"] == {"bot", "bot.doctor", "index", "index.embed"}
    assert graph["scripts.b"] == {"scripts.a", "scripts.lib", "scripts.lib.c"}
    assert graph["scripts.lib.c"] == {"scripts.lib", "scripts.lib.d"}
    comps = sorted(c for c in strongly_connected(graph) if len(c) > 1)
    assert comps == [["bot.doctor", "bot.slack.app", "bot.slack.run"], ["scripts.a", "scripts.b"]]


def test_no_import_circles():
    circles = [c for c in strongly_connected(import_graph()) if len(c) > 1]
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def test_no_module_over_700_lines():
    long = {
        name: n
        for name, path in module_files().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"
