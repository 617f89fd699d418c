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
    {"__init__", "errors", "layout", "dates", "urls", "sanitise", "deps", "packing", "filekeys"},
    {"engine", "inputs", "yamldoc", "workers", "write", "watch"},
    {"cache", "load", "schema"},
    {"markdown", "state"},
    {"model"},
    {"metadata", "visuals", "quotes", "search"},
    {"outputs", "render"},
    {"assemble", "options"},
    {"links", "parallel"},
    {"stages"},
    {"pipeline"},
    {"serve"},
    {"cli"},
    {"__main__"},
]


def imports(source: str) -> set[str]:
    """The package modules a module's source imports: relative imports, and absolute
    ones of `sitegen` (either way, a dependency)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level > 1:
            raise AssertionError("imports from outside the package")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sitegen"):
            parts = (node.module or "").split(".")
            found.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "sitegen":
                    found.add(parts[1] if len(parts) > 1 else "__init__")
    return {"__init__" if name == "__version__" else name for name in found}


def layer_of() -> dict[str, int]:
    return {module: n for n, layer in enumerate(LAYERS) for module in layer}


def violations(module: str, source: str) -> list[str]:
    """Each import of `module` that does not point to a lower layer."""
    layers = layer_of()
    here = layers[module]
    wrong = []
    for target in sorted(imports(source)):
        if target not in layers:
            wrong.append(f"{module} imports an unknown module {target}")
        elif layers[target] >= here:
            wrong.append(f"{module} (layer {here}) imports {target} (layer {layers[target]})")
    return wrong


def test_every_module_is_on_exactly_one_layer() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    placed = [m for layer in LAYERS for m in layer]
    assert len(placed) == len(set(placed)), "a module is on two layers"
    assert set(placed) == modules


def test_imports_point_down_only() -> None:
    wrong = []
    for path in sorted(PACKAGE.glob("*.py")):
        wrong += violations(path.stem, path.read_text("utf-8"))
    assert wrong == []


def test_the_contract_catches_upward_and_sideways_imports() -> None:
    """The check itself can fail: each form of an import that points the wrong way."""
    assert violations("errors", "from .pipeline import run\n") == [
        "errors (layer 0) imports pipeline (layer 10)"
    ]
    assert violations("errors", "def f():\n    from sitegen.pipeline import run\n") == [
        "errors (layer 0) imports pipeline (layer 10)"
    ]
    assert violations("model", "import sitegen.render\n") == [
        "model (layer 4) imports render (layer 6)"
    ]
    assert violations("model", "from sitegen import assemble\n") == [
        "model (layer 4) imports assemble (layer 7)"
    ]
    assert violations("errors", "from .layout import CONTENT\n") == [
        "errors (layer 0) imports layout (layer 0)"
    ]
    assert violations("pipeline", "from .render import Rendered\nimport os\n") == []
