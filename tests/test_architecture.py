"""The package's shape: layers that import only downwards, no cycle, nothing installed outside the
arrow_events namespace, and a library that leaves its host process's allocators alone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# where each module of the installed package lives in the repository
SOURCES = {"arrow_events": ROOT / "arrow_events", "arrow_events.udfs": ROOT / "udfs",
           "arrow_events.queries": ROOT / "queries"}
# lowest first: a module may import its own layer and those before it, never one after it
LAYERS = [
    ["arrow_events.errors"],
    ["arrow_events.options", "arrow_events.schema", "arrow_events.udfs", "arrow_events.queries"],
    ["arrow_events.config"],
    ["arrow_events.census"],
    ["arrow_events.engine"],
    ["arrow_events.warehouse"],
    ["arrow_events.execute"],
    ["arrow_events.simulation", "arrow_events.streams", "arrow_events.batch"],
    ["arrow_events.sweep", "arrow_events.service"],
    ["arrow_events.cli", "arrow_events.__main__", "arrow_events"],
]


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = [*package.split("."), *path.relative_to(folder).with_suffix("").parts]
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """Each module -> the package's modules it imports, at the top or inside functions."""
    mods = modules()
    graph = {}
    for name, path in mods.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                # `from pkg import module` imports the module; `from module import name`, the module
                subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in mods]
                targets = subs or [node.module]
            else:
                continue
            for target in targets:
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    deps.add(target)
        graph[name] = deps
    return graph


def layer(module: str) -> int:
    best = max((prefix for tier in LAYERS for prefix in tier if module == prefix or module.startswith(prefix + ".")),
               key=len)
    return next(i for i, tier in enumerate(LAYERS) if best in tier)


def test_every_module_has_a_layer():
    for name in modules():
        layer(name)  # raises when a module is in none


def test_no_module_imports_a_higher_layer():
    graph = import_graph()
    upward = [f"{m} (layer {layer(m)}) imports {d} (layer {layer(d)})" for m, deps in graph.items() for d in deps
              if layer(d) > layer(m)]
    assert upward == []


def test_no_import_cycle():
    graph = import_graph()
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1 and dep != "arrow_events":  # the package itself only re-exports
                raise AssertionError(" -> ".join([*path, node, dep]))
            if dep not in state:
                visit(dep, [*path, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_the_engine_knows_no_executor_warehouse_or_service():
    graph = import_graph()
    for name, deps in graph.items():
        if name.startswith("arrow_events.engine"):
            assert not [d for d in deps if d.split(".")[1:2] in (["execute"], ["warehouse"], ["service"])], name


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_udfs_and_queries_install_inside_the_package(tmp_path):
    # outside the repository (no folder of that name on the path), only the namespaced names exist
    r = _python("import importlib.util as u; print(u.find_spec('udfs'), u.find_spec('queries'), "
                "u.find_spec('arrow_events.udfs') is not None, u.find_spec('arrow_events.queries') is not None)",
                tmp_path)
    assert r.stdout.split() == ["None", "None", "True", "True"], r.stderr


def test_the_library_leaves_the_hosts_allocators_alone(tmp_path):
    code = """
import pyarrow as pa, arrow_events
before = pa.default_memory_pool().backend_name
arrow_events.run(arrow_events.load_config(None), "wh", [2025], census=arrow_events.synthetic_census(200, 1))
after_run = pa.default_memory_pool().backend_name
arrow_events.run(arrow_events.load_config(None), "wh2", [2025], census=arrow_events.synthetic_census(200, 1),
                 tune_memory=True)
print(before, after_run, pa.default_memory_pool().backend_name)
"""
    r = _python(code, tmp_path)
    before, after_run, asked = r.stdout.split()
    assert before != "system", "pyarrow's default pool is the system allocator already: nothing to check"
    assert (after_run, asked) == (before, "system"), r.stderr



# what a command loads when it runs, not before: the engine, the config's schema, Arrow, the warehouse's readers
HEAVY = ("datafusion", "pydantic", "pyarrow", "numpy", "arrow_events.config", "arrow_events.engine.year",
         "arrow_events.simulation", "arrow_events.warehouse", "arrow_events.sweep")


def _heavy_loaded(code: str, cwd: Path) -> list[str]:
    """The HEAVY modules in sys.modules after running ``code`` in a fresh interpreter."""
    r = _python(f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))", cwd)
    assert r.returncode == 0, r.stderr
    return [m for m in r.stdout.splitlines()[-1].split() if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_the_package_and_its_command_line_load_no_engine_until_a_command_runs(tmp_path):
    assert _heavy_loaded("import arrow_events, arrow_events.cli", tmp_path) == []
    # --help, and explain's help, which names the engine's relations, load none of it either
    code = """
import contextlib, io
from arrow_events.cli import main
for args in (["--help"], ["explain", "--help"]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(args)
    assert "Commands:" in out.getvalue() if args == ["--help"] else "member_year" in out.getvalue(), out.getvalue()
"""
    assert _heavy_loaded(code, tmp_path) == []
    # and a command does load what it runs (else the checks above would pass for nothing)
    assert "arrow_events.config" in _heavy_loaded("from arrow_events.cli import main\nimport contextlib\n"
                                                  "with contextlib.suppress(SystemExit):\n    main(['config'])",
                                                  tmp_path)


def test_the_public_names_resolve_from_their_modules(tmp_path):
    code = """
import arrow_events
from arrow_events import run
assert run.__module__ == "arrow_events.simulation", run.__module__
assert sorted(arrow_events._EXPORTS) == sorted(arrow_events.__all__)
for name in arrow_events.__all__:
    assert getattr(arrow_events, name).__module__.startswith(arrow_events._EXPORTS[name]), name
assert set(arrow_events.__all__) <= set(dir(arrow_events))
try:
    arrow_events.no_such_name
except AttributeError as e:
    assert "no_such_name" in str(e)
else:
    raise AssertionError("an unknown name resolved")
"""
    r = _python(code, tmp_path)
    assert r.returncode == 0, r.stderr
