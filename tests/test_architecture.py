"""The package's shape: module-level imports form no cycle and point down the layers of
docs/architecture.md; the engine's guarantees (needs_input_grad under no_grad, read-only saved
arrays, detect_mutation) hold."""

import ast
import pathlib

import numpy as np
import pytest

import stn_np
from stn_np import Function, Tensor, no_grad
from stn_np.autograd import detect_mutation

PACKAGE = pathlib.Path(stn_np.__file__).parent

# Layers, bottom first: a module may import from its own layer and the layers below it only.
LAYERS = [
    {"validation", "rng", "io", "threads"},
    {"autograd", "ops"},  # the engine and its core ops: tensor.py builds on the ops it serves
    {"sampling", "functional"},
    {"nn", "optim"},
    {"data", "registration", "plotting", "testing", "interop"},
    {"training", "checks"},  # the gradient-check registry covers every op family below it
    {"cli"},
]


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules():
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name, path, modules):
    """Modules ``name`` imports at module level (not inside functions), resolved to module names."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()

    def visit(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m in modules and m != name}


@pytest.fixture(scope="module")
def graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_module_level_imports_form_no_cycle(graph):
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def _layer(module):
    top = module.split(".")[1] if "." in module else ""
    for level, names in enumerate(LAYERS):
        if top in names:
            return level
    return None  # the package's own __init__ re-exports from everywhere


def test_imports_point_down_the_layers(graph):
    upward = [
        (a, b) for a, targets in graph.items() for b in targets
        if _layer(a) is not None and _layer(b) is not None and _layer(b) > _layer(a)
    ]
    assert not upward, f"imports pointing up the layers: {upward}"


def test_the_engine_imports_only_the_core_ops(graph):
    engine = {m for m in graph if m.startswith("stn_np.autograd")}
    allowed = engine | {"stn_np.ops", "stn_np.ops.elementwise", "stn_np.ops.linalg", "stn_np.ops.reduce",
                        "stn_np.ops.shape", "stn_np.validation"}
    assert not {t for m in engine for t in graph[m]} - allowed
    # function.py sits at the bottom: every op imports it, and it imports nothing of the package
    assert graph["stn_np.autograd.function"] == set()


class _Probe(Function):
    """z = x (records what the context said)."""

    seen = None

    @staticmethod
    def forward(ctx, x):
        _Probe.seen = ctx.needs_input_grad
        ctx.save_for_backward(x)
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        assert not x.flags.writeable
        return g


def test_needs_input_grad_is_all_false_under_no_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    _Probe.apply(x)
    assert _Probe.seen == (True,)
    with no_grad():
        y = _Probe.apply(x)
    assert _Probe.seen == (False,) and not y.requires_grad


def test_saved_arrays_are_read_only_views_and_the_input_stays_writable():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = _Probe.apply(x)
    y.backward(np.array([0.5, -1.0]))
    assert x.data.flags.writeable  # only the saved view is read-only
    np.testing.assert_array_equal(x.grad, [0.5, -1.0])


def test_detect_mutation_reports_an_input_changed_between_forward_and_backward():
    x = Tensor(np.arange(4.0), requires_grad=True)
    w = Tensor(np.ones(4), requires_grad=True)
    with detect_mutation():
        loss = (x * w).sum()
        w.data[2] = 7.0
        with pytest.raises(RuntimeError, match=r"MulFunction.backward: saved array 1 \(shape \(4,\)\) was modified"):
            loss.backward()
    # without the switch the same mistake is not detected (the documented cost trade-off)
    loss = (x * w).sum()
    w.data[2] = 1.0
    loss.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0, 1.0])


def test_detect_mutation_passes_untouched_graphs_and_nan_values():
    x = Tensor(np.array([np.nan, 1.0, 2.0]), requires_grad=True)
    with detect_mutation():
        y = (x * x).sum()
        y.backward()
    assert np.isnan(x.grad[0]) and x.grad[1] == 2.0
