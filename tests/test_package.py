"""The structure of the code: the package's imports form a DAG, the facade defines
nothing, every module stays small and names its chapter, and no private name crosses
into the package from outside it."""

import ast
import json
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lindiff"
MODULES = sorted(PACKAGE.rglob("*.py"))
# The modules lindiff_core re-exports from, and the networks: each derives something
# in a chapter and says which.
COMPANIONS = {"checks", "_check", "sample_checks", "reference", "plot", "layout"}


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imported(node, module: str) -> list[str]:
    """The package modules an import statement of ``module`` imports."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "lindiff"]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:  # relative: resolve against the importing module's package
        package = module.split(".")[: -node.level]
        base = ".".join(package + ([base] if base else []))
    if base.split(".")[0] != "lindiff":
        return []
    names = {_name(p) for p in MODULES}
    out = [base] if base in names else []
    out += [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in names]
    return out


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in MODULES:
        module = _name(path)
        graph[module] = {
            m
            for node in ast.walk(_tree(path))
            for m in _imported(node, module)
            if m != module
        }
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph, or None (depth-first search)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_package_imports_form_a_dag():
    graph = _graph()
    assert "lindiff.denoiser" in graph["lindiff.losses"]  # the scan sees imports
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_function_level_import_of_the_package():
    """Imports inside functions are not used to dodge a cycle."""
    for path in MODULES:
        module = _name(path)
        for node in ast.walk(_tree(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    assert not _imported(inner, module), (
                        f"{module}.{node.name} imports the package inside a function"
                    )


def test_the_facade_defines_nothing():
    """lindiff_core: a docstring, explicit imports from the package and one __all__
    that lists exactly the public names it imports."""
    tree = _tree(ROOT / "lindiff_core.py")
    body = tree.body
    assert isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    imported = []
    for node in body[1:]:
        if isinstance(node, ast.ImportFrom):
            assert node.module.startswith("lindiff.") and node.level == 0
            assert all(a.name != "*" and a.asname is None for a in node.names)
            imported += [a.name for a in node.names]
        else:
            assert isinstance(node, ast.Assign), ast.dump(node)[:80]
            assert [t.id for t in node.targets] == ["__all__"]
            listed = [e.value for e in node.value.elts]
    assert not [n for n in imported if n.startswith("_")]
    assert sorted(listed) == sorted(imported)
    assert len(set(listed)) == len(listed)

    import lindiff_core as ld

    assert all(hasattr(ld, n) for n in ld.__all__)


@pytest.mark.parametrize("path", MODULES, ids=[_name(p) for p in MODULES])
def test_each_module_is_small_and_names_its_chapter(path):
    lines = path.read_text().count("\n")
    assert lines <= 600, f"{_name(path)}: {lines} lines"
    doc = ast.get_docstring(_tree(path))
    assert doc, f"{_name(path)}: no docstring"
    if path.stem not in COMPANIONS | {"_validate", "_docs", "__init__"}:
        assert re.search(r"\bchapters? \d", doc), f"{_name(path)}: no chapter named"


def _sources():
    """Every Python source outside the package: tests, benchmarks, scripts, and the
    code cells of the notebooks."""
    for folder in ("tests", "benchmarks", "scripts"):
        for path in sorted((ROOT / folder).glob("*.py")):
            yield path.name, path.read_text()
    for path in [ROOT / "intro.ipynb", *sorted((ROOT / "chapters").glob("*.ipynb"))]:
        cells = json.loads(path.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        # IPython magics and shell lines are not Python
        lines = [
            ln for ln in "\n".join(code).splitlines() if ln.lstrip()[:1] not in "%!"
        ]
        yield path.name, "\n".join(lines)


def _private_uses(source: str) -> list[str]:
    """Private names of the package used by ``source``: ``from lindiff... import _x``
    and ``alias._x`` for an alias bound to a module of the package."""
    tree = ast.parse(source)
    aliases, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in ("lindiff", "lindiff_core"):
                    aliases.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
            "lindiff",
            "lindiff_core",
        ):
            for a in node.names:
                if a.name.startswith("_"):
                    found.append(f"{node.module}.{a.name}")
                elif node.module == "lindiff" or node.module.startswith("lindiff."):
                    aliases.add(a.asname or a.name)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_no_private_name_crosses_into_the_package():
    bad = {name: uses for name, src in _sources() if (uses := _private_uses(src))}
    assert not bad, bad


def test_the_private_name_scan_finds_them():
    src = "import lindiff_core as ld\nfrom lindiff import nn\n"
    src += "from lindiff.kl import _kl\nld._array(1)\nnn.per_step_forward\nnn._setup\n"
    found = sorted(_private_uses(src))
    assert found == ["ld._array", "lindiff.kl._kl", "nn._setup"]


def test_a_runtime_warning_anywhere_in_the_package_fails_the_tests():
    """pytest turns a RuntimeWarning raised from any module of the package (and the
    facade) into an error: the filter of pyproject.toml matches them all."""
    errors = [
        f
        for f in warnings.filters
        if f[0] == "error" and f[2] is RuntimeWarning and f[3] is not None
    ]
    for module in ["lindiff_core", *(_name(p) for p in MODULES)]:
        assert any(f[3].match(module) for f in errors), module


def test_the_api_reference_lists_every_public_name():
    """api.md names each public name of the facade and of the companion modules (the
    strict build fails on a name that no longer exists; this catches a missing one)."""
    import importlib

    import lindiff_core as ld

    page = (ROOT / "api.md").read_text()
    listed = set(re.findall(r"^   (\w+)$", page, re.M))  # autosummary tables
    listed |= set(re.findall(r"^\.\. auto\w+:: (\w+)", page, re.M))
    missing = [n for n in ld.__all__ if n not in listed]
    for module in ("checks", "reference", "plot", "layout", "nn"):
        names = importlib.import_module(f"lindiff.{module}").__all__
        missing += [f"{module}.{n}" for n in names if n not in listed]
    assert not missing, missing


def test_every_shared_docstring_entry_is_filled():
    """No ``{name}`` placeholder of lindiff._docs is left in a docstring of the package
    (functions, classes, and their methods, class methods included)."""
    import importlib
    import inspect

    placeholder = re.compile(r"^\s*\{\w+\}$", re.M)
    left = []
    for path in MODULES:
        module = importlib.import_module(_name(path))
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            docs = [(name, obj.__doc__)]
            if inspect.isclass(obj):
                docs += [
                    (f"{name}.{k}", getattr(getattr(v, "__func__", v), "__doc__", None))
                    for k, v in vars(obj).items()
                ]
            left += [
                f"{module.__name__}.{n}" for n, d in docs if d and placeholder.search(d)
            ]
    assert not left, left
