"""The package's shape: no import cycle among its modules (lazy imports inside functions count), no
module over 500 lines, and a docstring at the top of every module (issue 11); the layering (issue 22):
shared rooms below the method families, no family reaching into another's internals, only the command
line importing the command line, the PyTorch twin free of TensorFlow, and no file found through the
module's own path."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "nst_tf"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the nodes inside `if TYPE_CHECKING:` blocks: imports that never run."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skipped


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The package modules `path` imports anywhere in its body (functions included), as module names."""
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    skipped = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from a.b import c` imports a.b, and a.b.c when c is a module
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    # A package's __init__ is not an edge of its submodules' imports: `import a.b` runs a/__init__ first,
    # but only re-exports in it could close a cycle, and those are imports of its own (checked as edges).
    return {name: _imports(path, modules) - {name} for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a list of module names, or None (depth-first search with colours)."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for child in sorted(graph.get(node, ())):
            if colour.get(child) == 1:
                return stack[stack.index(child) :] + [child]
            if child not in colour and (cycle := visit(child)):
                return cycle
        stack.pop()
        colour[node] = 2
        return None

    for start in sorted(graph):
        if start not in colour and (cycle := visit(start)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle():
    assert find_cycle(import_graph()) is None


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]


def test_no_module_is_over_500_lines_and_each_opens_with_a_docstring():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert len(text.splitlines()) <= 500, path
        if text.strip():
            assert ast.get_docstring(ast.parse(text)), f"{path} has no module docstring"


# --- Layering (issue 22): who may import whom -------------------------------------------------------------

# Each module belongs to the room of the longest prefix below that names it. A room is "shared" (what
# every method uses; imports only shared rooms), one of the FAMILIES (one method's stack: imports shared
# rooms, its own family, and of another family only that family's package or a module listed in
# SHARED_FROM_FAMILIES), or "front" (front ends and measurements on top: any room but the command line).
# Some names are rooms the design (DESIGN.md §5) places that may not exist yet; a new room is added here.
FAMILIES = ("optim", "feedforward", "universal", "audio")
ROOMS = {
    "nst_tf": "shared",  # the package's lazy re-exports
    "nst_tf.errors": "shared",
    "nst_tf.config": "shared",
    "nst_tf.presets": "shared",
    "nst_tf.records": "shared",
    "nst_tf.runtime": "shared",
    "nst_tf.io": "shared",
    "nst_tf.vgg": "shared",
    "nst_tf.losses": "shared",
    "nst_tf.score": "shared",
    "nst_tf.perf": "shared",  # the precision policy; the bench is a front room
    "nst_tf.training": "shared",
    "nst_tf.video": "shared",  # frames in and out, optical flow, the temporal blend, the warping error
    # the routes (one per family), their settings and the file-to-file session use every family: a front end
    "nst_tf.video.routes": "front",
    "nst_tf.video.memory": "front",  # plans the routes with every family's memory planner
    "nst_tf.video.settings": "front",
    "nst_tf.video.session": "front",
    "nst_tf.optim": "optim",
    "nst_tf.twin": "optim",  # the optimisation's PyTorch side (no TensorFlow: see below)
    "nst_tf.feedforward": "feedforward",
    "nst_tf.universal": "universal",
    "nst_tf.audio": "audio",
    "nst_tf.perf.bench": "front",
    "nst_tf.parity": "front",
    "nst_tf.notebook": "front",
    "nst_tf.serve": "front",
    "nst_tf.cli": "front",
    "nst_tf.__main__": "front",
}
# Modules of one family that the other families may use, and why each is shared rather than internal.
SHARED_FROM_FAMILIES = {
    "nst_tf.optim.lbfgs": "the framework-free L-BFGS driver (NumPy + SciPy); sound optimises its spectrogram with it",
}
# The packages that load TensorFlow when imported (Keras 3 imports its backend; TensorBoard's summary API).
TENSORFLOW_PACKAGES = {"tensorflow", "keras", "tensorboard", "tf_keras"}


def room_of(module: str) -> str:
    """The ROOMS key naming `module` (the longest prefix), or "" for a module in no room."""
    names = [name for name in ROOMS if module == name or module.startswith(name + ".")]
    return max(names, key=len, default="")


def kind_of(module: str) -> str:
    """The kind of `module`'s room: "shared", "family" or "front"."""
    kind = ROOMS[room_of(module)]
    return "family" if kind in FAMILIES else kind


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import that breaks the rooms' rules, as "a -> b (why)"."""
    found = []
    for module, imports in sorted(graph.items()):
        kind, family = kind_of(module), ROOMS[room_of(module)]
        for target in sorted(imports):
            target_kind, target_family = kind_of(target), ROOMS[room_of(target)]
            if kind == "shared" and target_kind != "shared":
                found.append(f"{module} -> {target} (a shared room imports a {target_kind} room)")
            elif kind == "family" and target_kind == "front":
                found.append(f"{module} -> {target} (a family imports a front room)")
            elif kind == "family" and target_kind == "family" and target_family != family:
                if target != room_of(target) and target not in SHARED_FROM_FAMILIES:
                    found.append(f"{module} -> {target} (reaches into another family)")
    return found


def external_imports(path: Path) -> set[str]:
    """The top-level names of the non-package modules `path` imports anywhere (functions included)."""
    tree = ast.parse(path.read_text())
    skipped = _type_checking_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found - {"nst_tf"}


def import_chain(graph: dict[str, set[str]], start: str, goal: set[str]) -> list[str] | None:
    """The shortest chain of package imports from `start` to a module in `goal` (breadth first), or None."""
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        if path[-1] in goal:
            return path
        for child in sorted(graph.get(path[-1], ())):
            if child not in seen:
                seen.add(child)
                paths.append(path + [child])
    return None


def test_every_module_sits_in_a_room():
    assert [module for module in import_graph() if not room_of(module)] == []


def test_no_room_breaks_the_layering():
    assert layering_violations(import_graph()) == []


def test_the_layering_check_finds_planted_violations():
    graph = {
        "nst_tf.io.images": {"nst_tf.optim.engine"},  # shared -> family
        "nst_tf.audio.transfer": {"nst_tf.optim", "nst_tf.optim.lbfgs", "nst_tf.optim.engine"},
        "nst_tf.universal.stylize": {"nst_tf.cli.common", "nst_tf.io.images", "nst_tf.twin.torch_vgg"},
        "nst_tf.optim.engine": {"nst_tf.optim.adam", "nst_tf.twin.torch_run", "nst_tf.vgg.extractor"},
    }
    assert layering_violations(graph) == [
        "nst_tf.audio.transfer -> nst_tf.optim.engine (reaches into another family)",
        "nst_tf.io.images -> nst_tf.optim.engine (a shared room imports a family room)",
        "nst_tf.universal.stylize -> nst_tf.cli.common (a family imports a front room)",
        "nst_tf.universal.stylize -> nst_tf.twin.torch_vgg (reaches into another family)",
    ]


def test_only_the_command_line_imports_the_command_line():
    offenders = [
        f"{module} -> {target}"
        for module, imports in sorted(import_graph().items())
        if room_of(module) not in ("nst_tf.cli", "nst_tf.__main__")
        for target in sorted(imports)
        if room_of(target) == "nst_tf.cli"
    ]
    assert offenders == []


def test_the_twin_never_imports_tensorflow():
    """Not directly, and not through any package module it imports, lazily or not (the closure)."""
    graph = import_graph()
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    loads_tensorflow = {name for name, path in paths.items() if external_imports(path) & TENSORFLOW_PACKAGES}
    chains = [
        " -> ".join(chain)
        for module in sorted(graph)
        if room_of(module) == "nst_tf.twin" and (chain := import_chain(graph, module, loads_tensorflow))
    ]
    assert chains == []


def test_no_module_finds_files_through_its_own_path():
    """Shipped files are package data (nst_tf.io.package_data); `__file__` and `parents[N]` would tie the
    code to the repository's layout, which an installed wheel does not have."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Name) and node.id == "__file__":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} __file__")
            elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
                if node.value.attr == "parents":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} parents[...]")
    assert offenders == []
