"""The package layout's dependency rule (docs/architecture.md), read from the source with ``ast``.

basics < layers/losses/metrics/optimizers < saving < engines < trainers and callbacks < models:
a module may import its own family and the families below it, never above; and no import cycle
exists between modules (imports inside functions included).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import kerastyle

ROOT = Path(kerastyle.__file__).resolve().parent

BASICS = {"backend", "activations", "initializers", "regularizers", "constraints", "inputs", "packing", "progbar",
          "plotting", "utils", "datasets", "ops", "preprocessing", "mixed_precision", "distributed",
          "saving.object_registration", "saving.file_format"}
RANKS = {"layers": 1, "losses": 1, "metrics": 1, "optimizers": 1, "saving": 2, "engines": 3, "backprop": 3,
         "trainers": 4, "callbacks": 4, "models": 5}


def _modules():
    names = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append((".".join(parts), path))
    return names


def _family(module: str) -> str:
    for basic in BASICS:
        if module == basic or module.startswith(basic + "."):
            return "basics"
    return module.split(".")[0]


def _rank(module: str) -> int:
    family = _family(module)
    return 0 if family == "basics" else RANKS.get(family, 0)


def _imports(module: str, path: Path, top_level_only: bool):
    """kerastyle modules imported by ``module`` (relative to the package root)."""
    tree = ast.parse(path.read_text())
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and node.module.startswith("kerastyle"):
                target = node.module.removeprefix("kerastyle").lstrip(".")
            else:
                continue
            for alias in node.names:
                candidate = f"{target}.{alias.name}" if target else alias.name
                found.add(candidate if (ROOT / candidate.replace(".", "/")).with_suffix(".py").exists()
                          or (ROOT / candidate.replace(".", "/")).is_dir() else target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kerastyle."):
                    found.add(alias.name.removeprefix("kerastyle."))
    return {f for f in found if f}


@pytest.mark.parametrize("module,path", [m for m in _modules() if m[0]], ids=lambda v: str(v))
def test_imports_follow_the_dependency_rule(module, path):
    if not isinstance(path, Path):
        return
    source_rank = _rank(module)
    bad = []
    for target in _imports(module, path, top_level_only=False):
        if _family(target) == _family(module):
            continue
        if _rank(target) > source_rank:
            bad.append(f"{target} (rank {_rank(target)})")
    assert not bad, f"kerastyle.{module} (rank {source_rank}) imports higher layers: {', '.join(sorted(bad))}"


def test_saving_never_imports_models_or_trainers():
    for module, path in _modules():
        if _family(module) == "saving":
            targets = {_family(t) for t in _imports(module, path, top_level_only=False)}
            assert not targets & {"models", "trainers", "engines", "callbacks"}, module


def test_no_import_cycles():
    """No cycle between modules, counting imports inside functions too (a late import is still a cycle)."""
    graph = {module: _imports(module, path, top_level_only=False) for module, path in _modules()}
    state, stack = {}, []

    def visit(node):
        state[node] = "active"
        stack.append(node)
        for target in graph.get(node, ()):
            if target.startswith(node + ".") or node == "":  # a package importing its own submodules
                continue
            if state.get(target) == "active":
                cycle = stack[stack.index(target):] + [target]
                if not all(n == "" or c.startswith(n + ".") or n.startswith(c + ".")
                           for n, c in zip(cycle, cycle[1:])):
                    raise AssertionError("import cycle: " + " -> ".join(cycle))
            elif state.get(target) is None and target in graph:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in graph:
        if state.get(node) is None:
            visit(node)


def test_every_public_module_is_an_attribute_of_the_package():
    for info in pkgutil.iter_modules([str(ROOT)]):
        if info.name.startswith("_"):
            continue
        importlib.import_module(f"kerastyle.{info.name}")
        assert hasattr(kerastyle, info.name), f"kerastyle.{info.name} is not reachable as an attribute"


def test_callbacks_use_only_the_public_model_api():
    for path in (ROOT / "callbacks").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) \
                    and node.value.attr == "model" and node.attr.startswith("_"):
                raise AssertionError(f"{path.name} uses the private model attribute {node.attr!r}")


def test_the_training_loop_checks_no_callback_classes():
    source = (ROOT / "trainers" / "trainer.py").read_text()
    tree = ast.parse(source)
    names = {"TerminateOnNaN", "BackupAndRestore", "EarlyStopping", "ModelCheckpoint"}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not used & names
