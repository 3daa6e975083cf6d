"""The project's layout holds: no import circle, one direction per product (pure core <- source
<- tile job), a worker package that ships no demo code, and an executor plugin that imports with
the base dependencies only."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PRODUCTS = ("dem", "s1", "s2")
#: Modules of the worker package that compute without I/O: numpy and scipy in, arrays out.
PURE_CORE = {f"loaders.{product}" for product in PRODUCTS} | {"loaders.tiles"}
#: What a pure core may import besides the standard library and other pure core modules.
PURE_CORE_LIBRARIES = {"numpy", "scipy"}
#: Import names of the `loaders` extra (and what it pulls in) that the base install lacks.
LOADERS_EXTRA_MODULES = (
    "scipy",
    "rasterio",
    "affine",
    "hickle",
    "h5py",
    "pystac",
    "shapely",
    "pyproj",
)
#: Import names of the `dev` extra.
DEV_EXTRA_MODULES = ("moto", "psutil", "pytest")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


PROJECT_MODULES = {module_name(path) for path in SRC.rglob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function (a lazy import still
    closes a circle), as absolute names. ``from package import name`` imports the module
    ``package.name`` when there is one, else ``package`` itself."""
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = (package or module_name(path)).split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in PROJECT_MODULES else base)
    return found


@pytest.fixture(scope="module")
def project_imports() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in SRC.rglob("*.py")}
    return {
        name: {m for m in imported_modules(path) if m in modules and m != name}
        for name, path in modules.items()
    }


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of ``graph``: its strongly connected components of two or more
    modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_the_circle_finder_finds_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert strongly_connected(graph) == [["a", "b", "c"]]


def test_no_module_imports_itself_back(project_imports):
    assert strongly_connected(project_imports) == []


def test_the_pure_cores_import_numpy_and_scipy_only(project_imports):
    stdlib = sys.stdlib_module_names
    for name in sorted(PURE_CORE):
        path = SRC / (name.replace(".", "/") + ".py")
        outside = {
            m
            for m in imported_modules(path)
            if m.split(".")[0] not in stdlib | PURE_CORE_LIBRARIES
            and m not in PURE_CORE
            # `from loaders import tiles` also names the package itself.
            and m != "loaders"
        }
        assert not outside, f"{name} is a pure core but imports {sorted(outside)}"


def test_each_product_reads_in_one_direction(project_imports):
    # core <- source <- job: a core knows neither its source nor its job, a source not its job.
    for product in PRODUCTS:
        core, source, job = (f"loaders.{product}{suffix}" for suffix in ("", "_source", "_job"))
        assert job in project_imports, f"{job} is missing: the tile job of {product}"
        assert source not in project_imports[core] and job not in project_imports[core]
        if source in project_imports:
            assert job not in project_imports[source]


def test_the_worker_package_ships_no_demo_or_workflow_code(project_imports):
    foreign = ("demo_archive", "ttc_ard", "snakemake")
    for name, targets in project_imports.items():
        if name.split(".")[0] == "loaders":
            leaks = {t for t in targets if t.startswith(foreign)}
            assert not leaks, f"{name} (shipped to the workers) imports {sorted(leaks)}"
    dockerfile = (REPO / "docker/PipDockerfile").read_text()
    copied = re.findall(r"^COPY (\S+) ", dockerfile, re.MULTILINE)
    assert sorted(copied) == ["lithops_lambda.zip", "src/loaders"]
    assert not any(p.name.startswith("demo") for p in (SRC / "loaders").rglob("*"))


BLOCKER = """
import importlib.abc, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not a base dependency)")
sys.meta_path.insert(0, Absent())
"""


def test_the_plugin_imports_with_the_base_dependencies_only():
    # What the workflow side needs to plan a run and hand the tile jobs to Lambda: the executor
    # plugin (with the job entry point Lithops pickles by reference), the storage plugin and the
    # planning modules. The loaders' own libraries live in the worker image.
    base = {re.split(r"[<>=\[ ;]", d)[0].lower() for d in project()["dependencies"]}
    assert not base & set(LOADERS_EXTRA_MODULES), "a module blocked below is a base dependency"
    code = BLOCKER.format(blocked=set(LOADERS_EXTRA_MODULES + DEV_EXTRA_MODULES)) + (
        "import snakemake_executor_plugin_lithops, snakemake_storage_plugin_ard_s3\n"
        "import ttc_ard.destination, ttc_ard.plan, ttc_ard.reports, ttc_ard.request\n"
        "import loaders.jobs\n"
        "assert loaders.jobs.run_job\n"
        "print('imported')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "imported"


def test_the_blocker_blocks_an_extra():
    code = BLOCKER.format(blocked={"rasterio"}) + "import rasterio\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "not a base dependency" in done.stderr


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
