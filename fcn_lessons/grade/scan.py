"""Flags for a human: code in a learner's exercise cell that reaches into the grading.

The checks run in the same kernel as the learner's code, so such code can, with effort,
defeat any check (see docs/GRADING.md, threat model). The grader cannot stop that; it
reads each exercise cell (the syntax tree, or the text when it does not parse) and notes
what a human should look at. A flag costs no points.
"""

from __future__ import annotations

import ast
import re

from fcn_lessons.grade.reference import COURSE_PACKAGE, course_modules

# Names whose mere use in an exercise cell deserves a look, with the reason shown.
_NAMES = {
    "sys.modules": "reaches into sys.modules",
    "builtins": "reaches into builtins",
    "__builtins__": "reaches into builtins",
    "__import__": "imports through __import__",
    "importlib": "uses importlib",
    "get_ipython": "reaches into the IPython kernel",
    "set_custom_exc": "changes how the kernel reports errors",
    "sys.excepthook": "changes how errors are reported",
    "sys.settrace": "traces the checks' execution",
    "sys.setprofile": "traces the checks' execution",
    "sys._getframe": "inspects the callers' frames",
    "inspect": "inspects live objects (possibly the checks)",
    "gc": "uses the garbage collector's object lists",
    "ctypes": "uses ctypes (raw memory)",
    "setattr": "calls setattr",
    "delattr": "calls delattr",
    "os._exit": "exits the kernel",
    "sys.exit": "exits",
    "exit": "exits",
    "quit": "exits",
    "os.fork": "forks processes",
    "os.system": "runs shell commands",
    "subprocess": "runs processes",
    "multiprocessing": "starts processes",
    "socket": "opens network connections",
    "urllib": "uses the network",
    "requests": "uses the network",
    "http": "uses the network",
    "os.environ": "reads or changes the environment (the grader's seed is there)",
    "__code__": "rewrites function code objects",
    "__file__": "locates files on disk (a module's __file__)",
}
_STRINGS = [
    (re.compile(r"solutions[/\\]|solutions\b"), "names the solutions folder"),
    (re.compile(r"FCN_LESSONS_CHECK_SEED"), "reads the grader's seed variable"),
    (re.compile(r"\.ipynb\b"), "opens notebook files"),
]


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return None


def _imported_names(tree) -> dict[str, str]:
    """{local name: module} for the imports in ``tree``."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def flags(source: str, *, allowed_modules=(), module_names=()) -> list[str]:
    """What a human should look at in one exercise cell's ``source`` (sorted, without repeats).

    Args:
        allowed_modules: course modules the reference answer itself uses (not flagged).
        module_names: names bound to modules by the notebook's other cells (``np``, ``checks``...):
            assigning to their attributes is monkeypatching.
    """
    found: set[str] = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = None
    for module in sorted(course_modules(source) - set(allowed_modules)):
        if module.startswith(f"{COURSE_PACKAGE}.checks") or module == f"{COURSE_PACKAGE}.grade":
            found.add(f"uses {module} (the checks themselves)")
        else:
            found.add(f"uses {module}, which the reference answer does not")
    if tree is None:
        for name, reason in _NAMES.items():
            if re.search(rf"(?<![\w.]){re.escape(name)}\b", source):
                found.add(f"{reason} ({name})")
        if re.search(r"(?<![\w.])checks\s*\.", source):
            found.add("uses checks.* (the checks themselves)")
    else:
        modules = set(module_names) | set(_imported_names(tree)) | {"builtins", "__builtins__"}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Name, ast.Attribute)):
                dotted = _dotted(node)
                if dotted is None:
                    continue
                for name, reason in _NAMES.items():
                    if dotted == name or dotted.startswith(name + ".") or (
                            name.startswith("__") and dotted.endswith("." + name)):
                        found.add(f"{reason} ({name})")
                if dotted == "checks" or dotted.startswith("checks."):
                    found.add("uses checks.* (the checks themselves)")
            if isinstance(node, ast.alias):
                root = node.name.split(".")[0]
                if node.name in _NAMES or root in _NAMES:
                    found.add(f"{_NAMES.get(node.name) or _NAMES[root]} ({node.name})")
            targets = []
            if isinstance(node, (ast.Assign, ast.Delete)):
                targets = node.targets
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets = [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, (ast.Attribute, ast.Subscript)):
                        base = sub.value
                        while isinstance(base, (ast.Attribute, ast.Subscript)):
                            base = base.value
                        if isinstance(base, ast.Name) and base.id in modules:
                            what = _dotted(sub) if isinstance(sub, ast.Attribute) else f"{base.id}[...]"
                            found.add(f"assigns to {what} (monkeypatching a module)")
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for pattern, reason in _STRINGS:
                    if pattern.search(node.value):
                        found.add(reason)
    return sorted(found)
