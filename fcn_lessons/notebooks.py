"""The course's notebook machinery: paired files, execution, sync checks.

Every notebook is a pair: ``X.py`` (jupytext percent format: the inputs, what
reviewers diff) and ``X.ipynb`` (what learners open; stored executed in
``notebooks/`` and ``solutions/``, so nbval has reference outputs).

Every notebook follows the course's conventions (:func:`apply_conventions`, applied by
``build`` and by the exercise generator): its first Markdown cell opens with an "Open in
Colab" badge for its own path, its set-up cell installs the package from the same
repository, and cells whose output nbval must not compare carry the cell tag
``nbval-ignore-output`` (not a comment a learner would read). The repository is named in
one place, :data:`REPOSITORY`: change it there (for a fork), then run
``python -m fcn_lessons.notebooks conventions`` to rewrite every notebook.

Command line (``make notebooks`` runs ``build`` on notebooks/ and solutions/)::

    python -m fcn_lessons.notebooks build notebooks/01_conv1x1_is_dense.py [...]
    python -m fcn_lessons.notebooks check [notebooks exercises solutions]
    python -m fcn_lessons.notebooks conventions [notebooks exercises solutions]
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from pathlib import Path

import jupytext
import nbformat
from jupytext.config import load_jupytext_config

NOTEBOOK_DIRS = ("notebooks", "exercises", "solutions")
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
PROJECT_KERNEL = "python3"  # the .venv's own kernel (`make lab` registers it in .venv, nothing else)
CURRENT_ENV_KERNEL = ":current-env"  # the interpreter running this code (tests, grader)
CELL_TIMEOUT_S = 1200


REPOSITORY = "fcn-course/fcn-lessons"  # a placeholder until the course has a public home: change it here only
BRANCH = "main"
COLAB_BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
IGNORE_OUTPUT_TAG = "nbval-ignore-output"
_IGNORE_OUTPUT_COMMENT = re.compile(r"^# NBVAL_IGNORE_OUTPUT[^\n]*\n?", re.MULTILINE)
_BADGE_LINE = re.compile(r"^\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)[ \t]*\n*")
_INSTALL_URL = re.compile(r"git\+https://github\.com/[\w.-]+/[\w.-]+")


class NotebookError(ValueError):
    """A notebook file is missing, malformed, or out of sync with its twin."""


def install_url() -> str:
    """What the set-up cell pip-installs on Colab."""
    return f"git+https://github.com/{REPOSITORY}"


def colab_badge(relative_path) -> str:
    """The Markdown "Open in Colab" badge of the notebook at ``relative_path`` (e.g. notebooks/01_x.ipynb)."""
    target = Path(relative_path).with_suffix(".ipynb").as_posix()
    url = f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/{target}"
    return f"[![Open In Colab]({COLAB_BADGE_IMAGE})]({url})"


def apply_conventions(nb, relative_path) -> nbformat.NotebookNode:
    """Badge, install URL and nbval tags as the course wants them; returns ``nb`` (changed in place).

    Args:
        relative_path: the notebook's path from the repository root (``solutions/03_upsampling.py``).
    """
    markdown = next((cell for cell in nb.cells if cell.cell_type == "markdown"), None)
    if markdown is not None:  # a course notebook's title cell (the tests check that every lesson has one)
        markdown.source = colab_badge(relative_path) + "\n\n" + _BADGE_LINE.sub("", markdown.source)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    if code:
        code[0].source = _INSTALL_URL.sub(install_url(), code[0].source)
    for cell in code:
        if _IGNORE_OUTPUT_COMMENT.search(cell.source):
            cell.source = _IGNORE_OUTPUT_COMMENT.sub("", cell.source)
            tags = cell.metadata.setdefault("tags", [])
            if IGNORE_OUTPUT_TAG not in tags:
                tags.append(IGNORE_OUTPUT_TAG)
    return nb


def _relative(path: Path) -> Path:
    """``path`` from the folder that holds the course's jupytext.toml (the repository root)."""
    path = Path(path).resolve()
    for parent in path.parents:
        if (parent / "jupytext.toml").is_file():
            return path.relative_to(parent)
    raise NotebookError(f"no jupytext.toml found above {path}: run from the course repository.")


def rewrite_conventions(folder) -> list[Path]:
    """Apply :func:`apply_conventions` to every pair in ``folder`` without executing; returns the pairs changed."""
    changed = []
    for ipynb in sorted(Path(folder).glob("[0-9][0-9]_*.ipynb")):
        nb = read(ipynb)
        before = ipynb_text(nb)
        after = ipynb_text(apply_conventions(nb, _relative(ipynb)))
        if after != before or to_py(nb, ipynb.with_suffix(".py")) != ipynb.with_suffix(".py").read_text(encoding="utf-8"):
            write_pair(nb, ipynb)
            changed.append(ipynb)
    return changed


def _config(path: Path):
    """The jupytext.toml that governs the notebook at ``path`` (found in a parent folder)."""
    config = load_jupytext_config(str(Path(path).resolve()))
    if config is None:
        raise NotebookError(f"no jupytext.toml found above {path}: run from the course repository.")
    return config


def read(path) -> nbformat.NotebookNode:
    """Read a ``.py`` (percent) or ``.ipynb`` notebook, validating it."""
    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"{path}: no such notebook file.")
    try:
        nb = jupytext.read(path, config=_config(path))
        nbformat.validate(nb)
    except Exception as err:
        raise NotebookError(f"{path} is not a valid notebook: {err}") from err
    return nb


def to_py(nb, path) -> str:
    """The percent-format text of ``nb`` under the project's jupytext.toml."""
    return jupytext.writes(nb, fmt="py:percent", config=_config(Path(path)))


def ipynb_text(nb) -> str:
    """``nb`` as .ipynb text, with the course kernelspec and stable cell ids.

    Cell ids are ``cell-001``, ``cell-002``...: a notebook rebuilt from its .py (where
    jupytext draws random ids) gives the same file, so git shows only real changes.
    """
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for index, cell in enumerate(nb.cells, start=1):
        cell["id"] = f"cell-{index:03d}"
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def write_pair(nb, path) -> tuple[Path, Path]:
    """Write ``nb`` as ``X.ipynb`` and ``X.py`` (``path`` may name either)."""
    path = Path(path)
    ipynb, py = path.with_suffix(".ipynb"), path.with_suffix(".py")
    ipynb.write_text(ipynb_text(nb), encoding="utf-8", newline="\n")
    py.write_text(to_py(nb, py), encoding="utf-8", newline="\n")
    return ipynb, py


def pair_problems(folder) -> list[str]:
    """Every way the pairs in ``folder`` are out of sync (empty when all is well)."""
    folder = Path(folder)
    problems = []
    stems = {p.stem for p in folder.glob("*.ipynb")} | {p.stem for p in folder.glob("*.py")}
    for stem in sorted(stems - {"__init__"}):
        ipynb, py = folder / f"{stem}.ipynb", folder / f"{stem}.py"
        if not ipynb.exists() or not py.exists():
            missing = ipynb if not ipynb.exists() else py
            problems.append(f"{missing} is missing (every notebook is an .ipynb + .py pair).")
            continue
        try:
            expected = to_py(read(ipynb), py)
        except NotebookError as err:
            problems.append(str(err))
            continue
        actual = py.read_text(encoding="utf-8")
        if actual != expected:
            diff = "".join(list(difflib.unified_diff(
                expected.splitlines(True), actual.splitlines(True),
                f"{ipynb} (as py:percent)", str(py), n=1))[:40])
            problems.append(f"{py} differs from {ipynb}; run `make notebooks` "
                            f"(or `make exercises`) to rebuild the pair:\n{diff}")
    return problems


def _kernel_manager_class():
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    class CurrentEnvSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            if kernel_name == CURRENT_ENV_KERNEL:
                import ipykernel.kernelspec as spec
                return self.kernel_spec_class(resource_dir=spec.RESOURCES, **spec.get_kernel_dict())
            return super().get_kernel_spec(kernel_name)

    class Manager(KernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("kernel_spec_manager", CurrentEnvSpecs())
            super().__init__(**kwargs)

    return Manager


def execute(nb, cwd, *, kernel_name: str = PROJECT_KERNEL, allow_errors: bool = False,
            quick: bool | None = None, timeout: int = CELL_TIMEOUT_S) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` in a fresh kernel started in ``cwd``; returns ``nb``.

    Args:
        kernel_name: a Jupyter kernel name, or ``CURRENT_ENV_KERNEL`` for this interpreter.
        allow_errors: keep going after a cell raises (the error is stored as its output).
        quick: set (True) or unset (False) ``FCN_LESSONS_QUICK`` in the kernel;
            None inherits this process's environment.
    """
    from nbclient import NotebookClient

    from fcn_lessons.environment import QUICK_ENV_VAR

    env = dict(os.environ)
    if quick is not None:
        env.pop(QUICK_ENV_VAR, None)
        if quick:
            env[QUICK_ENV_VAR] = "1"
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=kernel_name, allow_errors=allow_errors,
        record_timing=False, resources={"metadata": {"path": str(cwd)}},
        kernel_manager_class=_kernel_manager_class(),
    )
    client.execute(env=env)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    return nb


def build(py_path, *, kernel_name: str = PROJECT_KERNEL, quick: bool = False) -> None:
    """Execute the notebook whose inputs are in ``py_path``; write the executed pair."""
    py_path = Path(py_path)
    if py_path.suffix != ".py":
        raise NotebookError(f"{py_path}: build takes the .py twin (the inputs), not {py_path.suffix}.")
    nb = apply_conventions(read(py_path), _relative(py_path))
    print(f"executing {py_path} ...", flush=True)
    execute(nb, py_path.parent, kernel_name=kernel_name, quick=quick)
    write_pair(nb, py_path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fcn_lessons.notebooks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="execute .py notebooks and write the executed .ipynb + .py pairs")
    b.add_argument("paths", nargs="+", type=Path)
    b.add_argument("--kernel", default=PROJECT_KERNEL)
    b.add_argument("--quick", action="store_true", help="run in quick mode (FCN_LESSONS_QUICK=1)")
    c = sub.add_parser("check", help="report pairs that are out of sync")
    c.add_argument("folders", nargs="*", type=Path, default=[Path(d) for d in NOTEBOOK_DIRS])
    v = sub.add_parser("conventions", help="rewrite badges, install URLs and nbval tags (no execution)")
    v.add_argument("folders", nargs="*", type=Path, default=[Path(d) for d in NOTEBOOK_DIRS])
    args = parser.parse_args(argv)
    if args.command == "build":
        for path in args.paths:
            build(path, kernel_name=args.kernel, quick=args.quick)
        return 0
    if args.command == "conventions":
        changed = [p for folder in args.folders for p in rewrite_conventions(folder)]
        print("\n".join(f"rewrote {p} and its .py" for p in changed) or "every notebook follows the conventions")
        return 0
    problems = [p for folder in args.folders for p in pair_problems(folder)]
    print("\n".join(problems) or "all notebook pairs are in sync")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
