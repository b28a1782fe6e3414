"""The course's notebook machinery: paired files, execution, sync checks.

Every notebook is a pair: ``X.py`` (jupytext percent format: the inputs, what
reviewers diff) and ``X.ipynb`` (what learners open; stored executed in
``notebooks/`` and ``solutions/``, so nbval has reference outputs).

Command line (``make notebooks`` runs ``build`` on notebooks/ and solutions/)::

    python -m fcn_lessons.notebooks build notebooks/01_conv1x1_is_dense.py [...]
    python -m fcn_lessons.notebooks check [notebooks exercises solutions]
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path

import jupytext
import nbformat
from jupytext.config import load_jupytext_config

NOTEBOOK_DIRS = ("notebooks", "exercises", "solutions")
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
PROJECT_KERNEL = "fcn-lessons"  # registered in .venv by `make lab` / `make test`
CURRENT_ENV_KERNEL = ":current-env"  # the interpreter running this code (tests, grader)
CELL_TIMEOUT_S = 1200


class NotebookError(ValueError):
    """A notebook file is missing, malformed, or out of sync with its twin."""


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
    nb = read(py_path)
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
    args = parser.parse_args(argv)
    if args.command == "build":
        for path in args.paths:
            build(path, kernel_name=args.kernel, quick=args.quick)
        return 0
    problems = [p for folder in args.folders for p in pair_problems(folder)]
    print("\n".join(problems) or "all notebook pairs are in sync")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
