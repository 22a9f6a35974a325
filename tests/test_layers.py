"""The package's layers import one way: core ← kernels ← model/pipeline ← backends ← estimator ← track ← the
applications (export, serving, data, train, evaluate, bench, CLIs). A module may import its own layer or
any lower one, never a higher one; imports of lfsdk's own modules sit at module top (so the graph below is
the whole graph), except the documented lazy ones; and the module-level graph has no cycle."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: package → source folder (setup.py's package_dir)
SOURCES = {"lfsdk": ROOT / "lfsdk", "lfsdk.export": ROOT / "export", "lfsdk.kernels": ROOT / "kernels"}

#: layer of each module, by longest matching prefix; lower numbers are lower layers
LAYERS = {
    "lfsdk._version": 0, "lfsdk.contract": 0, "lfsdk.cpu": 0, "lfsdk.depth_io": 0, "lfsdk.geometry": 0, "lfsdk.skeletons": 0, "lfsdk.preprocess": 0,
    "lfsdk.stages": 0, "lfsdk.profiling": 0, "lfsdk.engine_cache": 0, "lfsdk.draw": 0, "lfsdk.result": 0,
    "lfsdk.kernels": 1,
    "lfsdk.model": 2, "lfsdk.pipeline": 2, "lfsdk.inputs": 2,
    "lfsdk.backends": 3, "lfsdk.localize": 3, "lfsdk.pretrained": 3,
    "lfsdk.estimator": 4, "lfsdk.hands": 4,
    "lfsdk.track": 5, "lfsdk.sources": 6,
    "lfsdk.export": 6, "lfsdk.serving": 6, "lfsdk.data": 6, "lfsdk.data.raycast_torch": 6, "lfsdk.data.render_torch": 6, "lfsdk.train": 6, "lfsdk.train_config": 6, "lfsdk.train_curve": 6, "lfsdk.train_progress": 6, "lfsdk.train_bn": 6, "lfsdk.train_eval": 6, "lfsdk.train_record": 6,
    "lfsdk.train_schedule": 6, "lfsdk.train_speed": 6, "lfsdk.train_state": 6, "lfsdk.evaluate": 6,
    "lfsdk.scene_eval": 6, "lfsdk.calibrate_hands": 6, "lfsdk.scene_metrics": 6, "lfsdk.scene_report": 6, "lfsdk.bench": 6, "lfsdk.bench_report": 6, "lfsdk.cli": 6, "lfsdk.commands": 6,
    "lfsdk": 7,  # the package root is the public API: nothing inside lfsdk imports it
}
#: the one upward import: a backend that runs ONNX asks export to convert a checkpoint (in one function)
EXCEPTIONS = {("lfsdk.backends.model_file", "lfsdk.export.convert")}
#: lfsdk modules that may be imported inside a function: the Triton kernels (triton is imported only when a
#: kernel runs) and the exception above
LAZY_OK = {"lfsdk.kernels.center_triton", "lfsdk.kernels.crop_triton", "lfsdk.kernels.backproject_triton",
           "lfsdk.export.convert"}


def _modules() -> dict[str, Path]:
    out = {}
    for pkg, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([pkg, *parts])] = path
    return out


MODULES = _modules()


def layer(module: str) -> int:
    key = max((k for k in LAYERS if module == k or (k != "lfsdk" and module.startswith(k + "."))), key=len,
              default=None)
    if key is None:
        raise AssertionError(f"{module} has no layer: add it to LAYERS in tests/test_layers.py")
    return LAYERS[key]


def _imports(module: str, path: Path) -> list[tuple[str, bool, int]]:
    """(imported lfsdk module, at module top?, line) for every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    top = {id(n) for n in tree.body} | {id(n) for s in tree.body if isinstance(s, ast.If) for n in s.body}
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: len(module.split(".")) - node.level + (1 if is_pkg else 0)]
                base = ".".join(parent + ([node.module] if node.module else []))
            # `from pkg import mod` imports the module pkg.mod where it is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for t in targets:
            if t == "lfsdk" or t.startswith("lfsdk."):
                out.append((t, id(node) in top, node.lineno))
    return out


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def test_every_module_has_a_layer():
    for m in MODULES:
        layer(m)


def test_no_upward_import():
    bad = [f"{MODULES[m].relative_to(ROOT)}:{line} {m} (layer {layer(m)}) imports {t} (layer {layer(t)})"
           for m, deps in GRAPH.items() for t, _, line in deps
           if layer(t) > layer(m) and (m, t) not in EXCEPTIONS]
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_lfsdk_imports_at_module_top():
    bad = [f"{MODULES[m].relative_to(ROOT)}:{line} imports {t} inside a function"
           for m, deps in GRAPH.items() for t, top, line in deps if not top and t not in LAZY_OK]
    assert not bad, "\n".join(bad)


def test_no_import_cycle():
    deps = {m: {t for t, top, _ in GRAPH[m] if top and t in MODULES and t != m} for m in MODULES}
    # a package imports its own submodules; a submodule importing its package's __init__ is the cycle to catch
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for t in sorted(deps[m]):
            if state.get(t) == 1:
                cycle = path[path.index(t):] + [t]
                if not all(a.startswith(b + ".") for a, b in zip(cycle[:-1], cycle[1:]) if b in cycle[:-1]):
                    raise AssertionError("import cycle: " + " → ".join(cycle))
            elif t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(MODULES):
        if m not in state:
            visit(m)


@pytest.mark.parametrize("limit", [400])
def test_module_and_function_sizes(limit):
    """No module over ~400 lines, no function over ~60 (the CLIs' argument tables count too)."""
    long_modules = [f"{p.relative_to(ROOT)}: {n} lines" for p in MODULES.values()
                    if (n := len(p.read_text().splitlines())) > limit]
    long_functions = []
    for p in MODULES.values():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 60:
                    long_functions.append(f"{p.relative_to(ROOT)}:{node.lineno} {node.name}: {n} lines")
    assert not long_modules and not long_functions, "\n".join(long_modules + long_functions)
