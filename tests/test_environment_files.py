"""The set-up files agree with each other and with what the README promises."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _requirement_lines(lines):
    return sorted(" ".join(line.split()) for line in lines if line.strip() and not line.strip().startswith("#"))


def test_environment_yml_pins_what_requirements_txt_pins():
    pip_txt = _requirement_lines((ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines())
    conda = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip_section = next(item["pip"] for item in conda["dependencies"] if isinstance(item, dict))
    assert _requirement_lines(p for p in pip_section if p != "-e .") == pip_txt
    assert "-e ." in pip_section and "conda-forge" in conda["channels"]


def test_every_requirement_is_pinned_exactly():
    for line in _requirement_lines((ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()):
        assert re.match(r"^[A-Za-z0-9_.\-\[\]]+==[0-9][^;\s]*(;.*)?$", line), f"not an exact pin: {line}"


def test_exactly_one_tensorflow_and_one_opencv_per_platform():
    lines = _requirement_lines((ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines())
    opencv = [line for line in lines if line.startswith("opencv")]
    assert len(opencv) == 1
    tensorflow = [line for line in lines if line.startswith("tensorflow")]
    assert {line.split("==")[0] for line in tensorflow} == {"tensorflow", "tensorflow-cpu"}
    # the two markers are complements: check them on the platforms that matter
    from packaging.markers import Marker

    for env in [{"sys_platform": "linux", "platform_machine": "x86_64"},
                {"sys_platform": "linux", "platform_machine": "aarch64"},
                {"sys_platform": "darwin", "platform_machine": "arm64"},
                {"sys_platform": "win32", "platform_machine": "AMD64"}]:
        chosen = [line for line in tensorflow if Marker(line.split(";", 1)[1]).evaluate(env)]
        assert len(chosen) == 1, (env, chosen)
    assert not any(line.startswith(("tf-keras", "tf_keras")) for line in lines), "tf-keras pulls in the full tensorflow"


def test_python_versions_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == ">=3.10,<3.14"
    assert "(3, 11) <= v <= (3, 13)" in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```")[1]
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()[1:]] == ["make lab", "make test"]


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_set_up_is_idempotent():
    """After `make test` installed once, the set-up target is up to date: no reinstall."""
    import shutil
    import subprocess

    if not (ROOT / ".venv" / ".installed").exists() or shutil.which("make") is None:
        import pytest

        pytest.skip("run through `make test`, which installs .venv first")
    result = subprocess.run(["make", "-q", "setup"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, "make would reinstall: requirements.txt or pyproject.toml is newer than .venv/.installed"
