"""Tamper evidence: what a submission may not do to the checks that grade it.

Two independent layers, because code running in the kernel can change anything in it:

1. **Static scan** (trusted: the grader reads the submitted source, nothing runs). It flags code
   that reaches for the machinery grading relies on — IPython's exception and input hooks,
   ``sys.modules``/import hooks, frames and code objects, ``exec``/``eval`` — and code that
   rebinds or patches a name the course's own cells bind (``utils``, ``torch``, ``check_close``)
   or a builtin the tests use.
2. **Runtime probe**: after every test cell the grader runs a probe that fingerprints the
   functions, classes and hooks the checks depend on. The same probe ran after the same cell
   in the instructor's solution (the calibration run); any difference means the submission
   changed them.

Names bound by the solution's answer cells are the student's to define and never compared.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
from collections.abc import Iterable

from nbformat import NotebookNode

from coursekit.cells import is_answer, is_test, nbgrader

PROBE_TAG = "COURSEKIT-PROBE"

# Attributes whose use means reaching into the grader's machinery.
HOOK_ATTRIBUTES = {
    "set_custom_exc": "installs an IPython exception handler",
    "custom_exceptions": "changes IPython's exception handling",
    "CustomTB": "changes IPython's exception handling",
    "showtraceback": "replaces IPython's traceback display",
    "_showtraceback": "replaces IPython's traceback display",
    "showsyntaxerror": "replaces IPython's traceback display",
    "InteractiveTB": "replaces IPython's traceback display",
    "ast_transformers": "rewrites cells before they run (AST transformer)",
    "input_transformers_post": "rewrites cells before they run (input transformer)",
    "input_transformers_cleanup": "rewrites cells before they run (input transformer)",
    "input_transformer_manager": "rewrites cells before they run (input transformer)",
    "excepthook": "replaces the exception hook",
    "displayhook": "replaces the display hook",
    "settrace": "installs a tracing hook",
    "setprofile": "installs a profiling hook",
    "addaudithook": "installs an audit hook",
    "meta_path": "changes how modules are imported",
    "path_hooks": "changes how modules are imported",
    "path_importer_cache": "changes how modules are imported",
    "_getframe": "reads the caller's frames",
    "f_back": "reads the caller's frames",
    "f_globals": "reads the caller's frames",
    "f_locals": "reads the caller's frames",
    "f_builtins": "reads the caller's frames",
    "f_code": "reads the caller's frames",
    "__globals__": "reaches into a function's globals",
    "__code__": "replaces a function's code",
    "__closure__": "reaches into a function's closure",
    "__builtins__": "changes the builtins",
    "__subclasses__": "walks the class hierarchy to reach hidden objects",
    "__bases__": "walks the class hierarchy to reach hidden objects",
    "__base__": "walks the class hierarchy to reach hidden objects",
    "__mro__": "walks the class hierarchy to reach hidden objects",
    "__getattribute__": "bypasses attribute lookup",
    "__setattr__": "bypasses attribute assignment",
    "__delattr__": "bypasses attribute deletion",
    "__import__": "imports by name at run time",
}
HOOK_NAMES = {
    "get_ipython": "reaches the IPython shell that runs the tests",
    "__builtins__": "changes the builtins",
    "__import__": "imports by name at run time",
    "exec": "runs code built at run time",
    "eval": "runs code built at run time",
    "compile": "builds code at run time",
    "globals": "edits the notebook's globals indirectly",
    "vars": "edits a namespace indirectly",
    **dict.fromkeys(
        ("In", "Out", "_ih", "_oh", "_i", "_ii", "_iii"),
        "reads the notebook's input history (the tests' source)",
    ),
}
HISTORY_NAME = re.compile(r"^_i\d+$")
HOOK_MODULES = {
    "builtins": "changes the builtins",
    "ctypes": "writes process memory",
    "importlib": "changes how modules are imported",
    "inspect": "reads source or frames of the grader's code",
    "gc": "reaches objects it was not given",
    "IPython": "reaches the IPython shell that runs the tests",
    "ipykernel": "reaches the kernel that runs the tests",
    "traitlets": "reaches the kernel's configuration",
    "unittest": "patches objects (mock)",
    "linecache": "reads source of the grader's code",
    "marshal": "builds code objects",
    "dis": "reads code objects",
    "code": "runs code built at run time",
    "codeop": "builds code at run time",
    "runpy": "runs code built at run time",
    "types": "builds functions or code objects",
    "site": "changes how modules are imported",
    "__main__": "reaches the notebook's namespace and history indirectly",
}
SYS_ATTRIBUTES = {
    "modules": "edits sys.modules (import tricks)",
    "stdout": "replaces stdout",
    "stderr": "replaces stderr",
}
EXCEPTION_NAMES = {name for name in dir(builtins) if name.endswith(("Error", "Exception", "Warning", "Exit"))}


def cell_code(cell: NotebookNode) -> str:
    """The Python a cell runs: IPython syntax (``%magic``, ``!cmd``) turned into calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(cell.source)
    except Exception:  # a cell IPython cannot even transform fails when it runs
        return cell.source


def parse(cell: NotebookNode) -> ast.Module | None:
    try:
        return ast.parse(cell_code(cell))
    except (SyntaxError, ValueError):
        return None


def _imports(tree: ast.AST) -> dict[str, str]:
    """Name -> what it is bound to by import statements: ``import torch.nn as nn`` -> ``torch.nn``."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    bound[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def _bound_names(tree: ast.AST) -> set[str]:
    """Every module-level or nested name a piece of code assigns, defines or imports."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            names.update(node.names)
    return names | set(_imports(tree))


def _loaded_names(tree: ast.AST) -> set[str]:
    return {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.value if not isinstance(node, ast.Call) else node.func
    return node.id if isinstance(node, ast.Name) else None


def _chain(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


class Fixtures:
    """What the lesson's own (locked) cells bind, and what its tests rely on."""

    def __init__(self, solution: NotebookNode) -> None:
        given, answers, tested = {}, set(), set()
        for cell in solution.cells:
            if cell.cell_type != "code" or (tree := parse(cell)) is None:
                continue
            if is_answer(cell):
                answers |= _bound_names(tree)
            else:
                given.update(_imports(tree))
                given.update({name: "" for name in _bound_names(tree) if name not in given})
            if is_test(cell):
                tested |= _loaded_names(tree)
        self.imports = {name: target for name, target in given.items() if target and name not in answers}
        self.answers = answers
        self.builtins_used = {name for name in tested if hasattr(builtins, name) and name not in answers}
        # Names the tests load that a student must not rebind: imports and builtins.
        self.protected = (set(self.imports) & tested) | self.builtins_used | set(self.imports)

    def probe_names(self) -> list[str]:
        return sorted(self.protected - self.answers)


def static_findings(submission: NotebookNode, fixtures: Fixtures, restored: set[str]) -> list[str]:
    """Reasons to doubt a submission, each naming the cell and line. Empty for honest work.

    ``restored``: grade_ids of the cells nbgrader overwrites with the source before running
    (locked and test cells); whatever a student wrote there never runs. Every other code cell
    is read, whatever its metadata claims.
    """
    findings: list[str] = []
    for index, cell in enumerate(submission.cells):
        if cell.cell_type != "code" or nbgrader(cell).get("grade_id") in restored:
            continue
        tree = parse(cell)
        if tree is None:
            continue
        for line, reason in _scan(tree, fixtures):
            findings.append(f"cell {index + 1}, line {line}: {reason}")
    return sorted(set(findings), key=findings.index)


def _scan(tree: ast.AST, fixtures: Fixtures) -> Iterable[tuple[int, str]]:
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Attribute):
            if node.attr in HOOK_ATTRIBUTES:
                yield line, f"`.{node.attr}` {HOOK_ATTRIBUTES[node.attr]}"
            sys_attribute = _chain(node.value) == "sys" and node.attr in SYS_ATTRIBUTES
            if sys_attribute and (node.attr == "modules" or isinstance(node.ctx, ast.Store)):
                yield line, SYS_ATTRIBUTES[node.attr]
            if isinstance(node.ctx, ast.Store | ast.Del) and _root_name(node) in fixtures.imports:
                yield line, f"patches `{_chain(node)}`, which the course's cells import"
            if node.attr == "register" and "events" in _chain(node.value):
                yield line, "registers an IPython event callback"
        elif isinstance(node, ast.Name):
            if node.id in HOOK_NAMES and isinstance(node.ctx, ast.Load):
                yield line, f"`{node.id}` {HOOK_NAMES[node.id]}"
            elif HISTORY_NAME.match(node.id) and isinstance(node.ctx, ast.Load):
                yield line, f"`{node.id}` {HOOK_NAMES['In']}"
        elif isinstance(node, ast.Import | ast.ImportFrom):
            yield from _scan_import(node, fixtures)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if (
                node.func.id in {"setattr", "delattr"}
                and node.args
                and _root_name(node.args[0]) in fixtures.imports
            ):
                yield (
                    line,
                    f"`{node.func.id}` on `{_chain(node.args[0])}`, which the course's cells import",
                )
        elif isinstance(node, ast.Subscript) and _writes_dict(node):
            yield line, "writes into an object's `__dict__`"
    yield from _scan_rebinding(tree, fixtures)


def _writes_dict(node: ast.Subscript) -> bool:
    return isinstance(node.ctx, ast.Store | ast.Del) and _chain(node.value).endswith("__dict__")


def _scan_import(node: ast.Import | ast.ImportFrom, fixtures: Fixtures) -> Iterable[tuple[int, str]]:
    modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
    for module in modules:
        top = module.split(".")[0]
        if top in HOOK_MODULES:
            yield node.lineno, f"imports `{module}`, which {HOOK_MODULES[top]}"
    if isinstance(node, ast.ImportFrom) and node.level:
        yield node.lineno, "relative import (a module written at run time)"
    for name, target in _imports(node).items():
        expected = fixtures.imports.get(name)
        if expected is not None and target != expected:
            yield node.lineno, f"rebinds `{name}` (the course's cells bind it to `{expected}`) to `{target}`"


def _scan_rebinding(tree: ast.AST, fixtures: Fixtures) -> Iterable[tuple[int, str]]:
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names = [node.id]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = [node.name]
        for name in names:
            if name in fixtures.answers:
                continue
            if name in fixtures.imports:
                yield node.lineno, f"rebinds `{name}`, which the course's cells import"
            elif name in fixtures.builtins_used or name in EXCEPTION_NAMES:
                yield node.lineno, f"shadows the builtin `{name}`"


# --------------------------------------------------------------------------- runtime probe
PROBE_SOURCE = r"""
def __coursekit_probe(nonce, names):
    import builtins, hashlib, json, sys, types
    from IPython import get_ipython

    def code_hash(code):
        parts = [code.co_code, repr(code.co_names).encode()]
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                parts.append(code_hash(const).encode())
            elif isinstance(const, frozenset):
                parts.append(repr(sorted(map(repr, const))).encode())
            else:
                parts.append(repr(const).encode())
        return hashlib.sha256(b"|".join(parts)).hexdigest()[:16]

    def name_of(obj):
        for key in ("__qualname__", "__name__"):
            value = getattr(obj, key, None)
            if isinstance(value, str):
                return value
        return None

    def fp(obj):
        try:
            if isinstance(obj, types.ModuleType):
                return f"module:{obj.__name__}:{getattr(obj, '__file__', None)}"
            if isinstance(obj, type):
                return f"class:{obj.__module__}:{obj.__qualname__}"
            if isinstance(obj, (staticmethod, classmethod, types.MethodType)):
                obj = obj.__func__
            if isinstance(obj, types.FunctionType):
                return f"py:{obj.__module__}:{obj.__qualname__}:{code_hash(obj.__code__)}"
            if callable(obj):
                return f"c:{type(obj).__name__}:{getattr(obj, '__module__', None)}:{name_of(obj)}"
        except Exception as error:  # an object whose attributes raise: record that, stably
            return f"error:{type(error).__name__}"
        return None

    out = {}

    def walk(prefix, namespace):
        for key, value in list(namespace.items()):
            if isinstance(key, str) and (found := fp(value)) is not None:
                out[f"{prefix}.{key}"] = found

    modules = ["builtins", "math", "numpy", "numpy.testing", "torch", "torch.testing", "torch.nn.functional",
               "unittest.mock", "IPython.core.interactiveshell"]
    modules += [name for name in list(sys.modules) if name == "utils" or name.startswith("utils.")]
    for name in modules:
        module = sys.modules.get(name)
        if module is None:
            continue
        out[f"sys.modules.{name}"] = fp(module)
        walk(name, vars(module))
        if name.startswith("utils"):
            for key, value in list(vars(module).items()):
                if isinstance(value, type) and value.__module__.startswith("utils"):
                    walk(f"{name}.{key}", vars(value))
    torch = sys.modules.get("torch")
    if torch is not None:
        for cls in (torch.Tensor, *torch.Tensor.__mro__[1:-1], torch.nn.Module):
            walk(f"class.{cls.__module__}.{cls.__qualname__}", vars(cls))
    shell = get_ipython()
    from IPython.core.interactiveshell import InteractiveShell
    walk("class.InteractiveShell", vars(InteractiveShell))
    out["shell.class"] = fp(type(shell))
    out["shell.custom_exceptions"] = repr(shell.custom_exceptions)
    out["shell.ast_transformers"] = repr([type(t).__qualname__ for t in shell.ast_transformers])
    out["shell.input_transformers_post"] = repr([fp(t) for t in shell.input_transformers_post])
    manager = shell.input_transformer_manager
    out["shell.transformers"] = repr([fp(t) for t in manager.cleanup_transforms + manager.line_transforms])
    out["shell.instance_overrides"] = repr(sorted(
        key for key in ("showtraceback", "_showtraceback", "showsyntaxerror", "run_cell", "run_cell_async",
                        "run_ast_nodes", "run_code", "transform_cell", "transform_ast", "excepthook")
        if key in vars(shell)))
    out["shell.InteractiveTB"] = fp(type(shell.InteractiveTB))
    student_callbacks = [
        f"{event}:{fp(callback)}"
        for event, callbacks in shell.events.callbacks.items()
        for callback in callbacks
        if getattr(getattr(callback, "__func__", callback), "__module__", None) in (None, "__main__")]
    out["shell.student_callbacks"] = repr(student_callbacks)
    out["sys.excepthook"] = fp(sys.excepthook)
    out["sys.displayhook"] = fp(sys.displayhook)
    out["sys.trace"] = repr((sys.gettrace(), sys.getprofile()))
    out["sys.meta_path"] = repr([type(f).__qualname__ if not isinstance(f, type) else f.__qualname__
                                 for f in sys.meta_path])
    out["sys.path_hooks"] = repr([fp(h) for h in sys.path_hooks])
    out["sys.stdout"] = fp(type(sys.stdout))
    out["sys.stderr"] = fp(type(sys.stderr))
    namespace = shell.user_ns
    for name in names:
        out[f"user_ns.{name}"] = fp(namespace[name]) if name in namespace else "unbound"
    workdir = __import__("os").getcwd()
    written = sorted(name for name, module in list(sys.modules.items())
                     if str(getattr(module, "__file__", None) or "").startswith(workdir + "/"))
    out["sys.modules.written_at_run_time"] = repr(written)
    sys.stdout.write(f"\n{nonce} {json.dumps(out)}\n")
    sys.stdout.flush()

"""


def probe_cell_source(nonce: str, names: list[str]) -> str:
    """A cell that reports the fingerprints on one line starting with ``nonce`` and leaves no trace."""
    return f"{PROBE_SOURCE}__coursekit_probe({nonce!r}, {names!r})\ndel __coursekit_probe\n"


def read_probe(outputs: list[NotebookNode], nonce: str) -> dict[str, str] | None:
    for output in outputs:
        for line in str(output.get("text", "")).splitlines():
            if line.startswith(nonce + " "):
                try:
                    return json.loads(line[len(nonce) + 1 :])
                except json.JSONDecodeError:
                    return None
    return None


def compare(baseline: dict[str, str], found: dict[str, str]) -> list[str]:
    """What changed between the solution's run and the submission's, after the same test cell."""
    # "unbound" on either side is no tampering: a name the solution never bound is not one the tests
    # rely on, and a name left unbound (a test cell that failed before its imports) only fails.
    changed = [
        key
        for key in sorted(baseline.keys() & found.keys())
        if baseline[key] != found[key] and "unbound" not in (baseline[key], found[key])
    ]
    return [f"{key} changed ({_short(baseline[key])} → {_short(found[key])})" for key in changed]


def _short(text: str | None, limit: int = 80) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
