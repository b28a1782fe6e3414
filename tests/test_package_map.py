"""The package docstring is the map: every module is on it, and everything on it exists."""

import importlib.util
import re
from pathlib import Path

import fcn_lessons

PACKAGE = Path(fcn_lessons.__file__).parent
ROLES = ("checks", "widgets", "bench", "grade")
TOOLING = ("exercises", "notebooks", "timing", "_validate")


def _named_in_map() -> set[str]:
    return set(re.findall(r"``([a-z_0-9]+)``", fcn_lessons.__doc__))


def _planned() -> set[str]:
    return set(re.findall(r"``([a-z_0-9]+)`` \(planned\)", fcn_lessons.__doc__))


def _modules() -> set[str]:
    files = {p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    return files | packages


def test_every_module_is_on_the_map():
    missing = sorted(_modules() - _named_in_map())
    assert not missing, f"add these modules to the map in fcn_lessons/__init__.py: {missing}"


def test_everything_on_the_map_exists():
    named = {name for name in _named_in_map() if not name.startswith("fcn")}
    modules = {name for name in named if importlib.util.find_spec(f"fcn_lessons.{name}") is not None}
    functions = {name for name in named if hasattr(fcn_lessons, name) and name not in modules}
    unknown = sorted(named - modules - functions - _planned())
    assert not unknown, f"the map names modules that do not exist: {unknown}"
    assert set(ROLES + TOOLING) <= modules


def test_role_subpackages_mirror_the_concept_names():
    concepts = _modules() - set(ROLES) - set(TOOLING)
    for role in ("checks", "widgets"):  # bench: a module per thing measured (see its docstring)
        names = {p.stem for p in (PACKAGE / role).glob("*.py") if not p.stem.startswith("_")}
        strays = sorted(names - concepts - set(ROLES))
        assert not strays, f"fcn_lessons.{role} has modules named after no concept: {strays}"
