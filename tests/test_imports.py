"""matnn's modules import one another without a cycle, function-level imports included.

A cycle that Python tolerates at import time (because one side imports
inside a function) still ties two modules into one: neither can be read,
tested or changed alone. The graph is read from the source with ``ast``, so
imports inside functions count as much as those at the top.
"""

import ast
from pathlib import Path

import matnn

PACKAGE = Path(matnn.__file__).parent

def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph():
    """``{module: {modules it imports}}`` over every module of the matnn package."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p): p for p in paths}
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                bases = [alias.name for alias in node.names]
                targets.update(b for b in bases if b.split(".")[0] == "matnn")
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{base}.{node.module}" if node.module else base
                else:
                    base = node.module or ""
                if base.split(".")[0] != "matnn":
                    continue
                for alias in node.names:
                    # ``from . import data`` imports a module; ``from .x import f`` a name of x.
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in modules else base)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_import_graph_is_read_from_every_module():
    graph = import_graph()
    assert {"matnn", "matnn.training", "matnn.network", "matnn.ensemble"} <= set(graph)
    # Function-level imports count: Network._repr_svg_ imports draw inside the method.
    assert "matnn.draw" in graph["matnn.network"]
    assert "matnn.network" in graph["matnn.ensemble"]


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_matnn_module_imports_another_in_a_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_training_does_not_know_the_network():
    graph = import_graph()
    assert not graph["matnn.training"] & {"matnn.network", "matnn.ensemble", "matnn.model",
                                          "matnn.network_run", "matnn.lbfgs"}
