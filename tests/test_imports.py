"""The shape of the code: no import cycle in ``geo``, no page layer below the pages, no ``pages/``.

The import graph is read from the source with :mod:`ast` -- imports at module level and
inside functions alike (a function-level import is still a dependency; it only runs later).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: str) -> dict[str, Path]:
    """``geo.foo.bar`` -> path, for every module of a top-level package."""
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imported(path: Path, module: str) -> Iterator[str]:
    """Yield every module ``path`` imports (absolute; ``from a import b`` gives ``a`` and ``a.b``)."""
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_pkg else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            yield name
            for alias in node.names:
                yield f"{name}.{alias.name}"


def _graph(package: str) -> dict[str, set[str]]:
    mods = _modules(package)
    return {m: {n for n in _imported(p, m) if n in mods and n != m} for m, p in mods.items()}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or ``None`` (depth-first, three colours)."""
    colour = dict.fromkeys(graph, 0)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if colour[nxt] == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if colour[nxt] == 0 and (found := visit(nxt)):
                return found
        stack.pop()
        colour[node] = 2
        return None

    for node in sorted(graph):
        if colour[node] == 0 and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path: Path) -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None
    src = tmp_path / "m.py"
    src.write_text("import os\n\ndef f():\n    from geo import campaign\n", encoding="utf-8")
    assert "geo.campaign" in set(_imported(src, "geo.m"))


def test_geo_has_no_import_cycle() -> None:
    graph = _graph("geo")
    assert len(graph) > 20, "the graph was not read"
    assert graph["geo.campaign"], "the graph was not read"
    cycle = _find_cycle(graph)
    assert cycle is None, f"import cycle in geo: {' -> '.join(cycle or [])}"


@pytest.mark.parametrize("package", ["geo", "bench"])
def test_library_and_bench_never_import_the_page_layer(package: str) -> None:
    offenders = [
        f"{mod} imports {name}"
        for mod, path in _modules(package).items()
        for name in _imported(path, mod)
        if name == "views"
        or name.startswith("views.")
        or name == "streamlit"
        or name.startswith("streamlit.")
        if not (package == "bench" and name.startswith("streamlit"))  # the bench drives pages with AppTest
    ]
    assert not offenders, offenders


def test_engines_import_no_analysis() -> None:
    analyses = {"geo.campaign", "geo.coverage", "geo.siting", "geo.partials", "geo.access", "geo.planning"}
    for mod, path in _modules("geo").items():
        if mod.startswith("geo.engines"):
            assert not analyses & set(_imported(path, mod)), f"{mod} imports an analysis"


def test_no_pages_folder_next_to_the_app() -> None:
    # Streamlit serves every script in pages/ beside the main script as a page of its own,
    # without going through app.py: without the sign-in gate. Pages live in views/.
    assert (ROOT / "app.py").is_file()
    assert not (ROOT / "pages").exists(), "a pages/ folder would be served without the sign-in gate"
