"""The engine's dependencies point one way: each module imports only lower layers.

Every `from .x import ...` in the package counts, wherever it stands: at the top, inside
a function (an import made late for speed is still a dependency), or under
TYPE_CHECKING. A module on no layer fails too, so a new module is placed on purpose.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "sitegen"

# Lowest first. A module may import modules of lower layers only: never its own layer,
# never a higher one, so no cycle can form.
LAYERS: list[set[str]] = [
    {"__init__", "errors", "layout", "dates", "urls", "sanitise", "deps", "watch"}
    | {"workers", "write"},
    {"engine", "yamldoc"},
    {"cache", "load", "schema"},
    {"markdown"},
    {"model"},
    {"metadata", "visuals", "quotes", "search"},
    {"outputs", "render"},
    {"assemble", "options"},
    {"links", "parallel", "shortcut"},
    {"pipeline"},
    {"serve"},
    {"cli"},
    {"__main__"},
]


def imports(path: Path) -> set[str]:
    """The package modules a module imports (relative imports: this package's)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level > 1:
            raise AssertionError(f"{path.name}: imports from outside the package")
    return {"__init__" if name == "__version__" else name for name in found}


def layer_of() -> dict[str, int]:
    return {module: n for n, layer in enumerate(LAYERS) for module in layer}


def test_every_module_is_on_exactly_one_layer() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    placed = [m for layer in LAYERS for m in layer]
    assert len(placed) == len(set(placed)), "a module is on two layers"
    assert set(placed) == modules


def test_imports_point_down_only() -> None:
    layers = layer_of()
    wrong = []
    for path in sorted(PACKAGE.glob("*.py")):
        here = layers[path.stem]
        for target in sorted(imports(path)):
            assert target in layers, f"{path.name} imports an unknown module {target}"
            if layers[target] >= here:
                wrong.append(
                    f"{path.stem} (layer {here}) imports {target} (layer {layers[target]})"
                )
    assert wrong == []


def test_the_contract_catches_an_upward_import(tmp_path: Path) -> None:
    """The check itself can fail: a low module importing the pipeline is caught."""
    module = tmp_path / "errors.py"
    module.write_text("from .pipeline import run\n")
    layers = layer_of()
    assert any(layers[t] >= layers["errors"] for t in imports(module))
