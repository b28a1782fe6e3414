import os
import subprocess
import sys

import numpy as np
import pytest

import fcn_lessons
from fcn_lessons import environment


@pytest.mark.parametrize("value, expected", [
    ("1", True), ("true", True), ("YES", True), (" on ", True),
    ("0", False), ("", False), ("false", False), ("Off", False),
])
def test_quick_mode_reads_the_variable(monkeypatch, value, expected):
    monkeypatch.setenv("FCN_LESSONS_QUICK", value)
    assert fcn_lessons.quick_mode() is expected
    assert fcn_lessons.by_mode(full="full", quick="quick") == ("quick" if expected else "full")


def test_quick_mode_unset_is_learner_sized(monkeypatch):
    monkeypatch.delenv("FCN_LESSONS_QUICK", raising=False)
    assert fcn_lessons.quick_mode() is False


def test_malformed_quick_mode_names_the_variable(monkeypatch):
    monkeypatch.setenv("FCN_LESSONS_QUICK", "maybe")
    with pytest.raises(ValueError, match="FCN_LESSONS_QUICK='maybe'"):
        fcn_lessons.quick_mode()


def test_setup_reports_the_environment(capsys):
    facts = fcn_lessons.setup(seed=3)
    printed = capsys.readouterr().out
    assert set(facts) == {"python", "tensorflow", "keras", "backend", "devices", "gpu", "colab", "quick", "seed"}
    assert facts["keras"].startswith("3.") and facts["backend"] == "tensorflow"
    assert facts["devices"][0] == "CPU" and facts["seed"] == 3 and facts["quick"] is True
    assert f"TensorFlow {facts['tensorflow']}" in printed and "quick mode: on" in printed


def test_setup_seeds_python_numpy_and_keras():
    import random

    import keras

    def draws():
        fcn_lessons.setup(seed=11, verbose=False)
        return random.random(), np.random.rand(), float(keras.random.uniform(()))

    assert draws() == draws()


def test_setup_makes_tensorflow_deterministic():
    from tensorflow.python.framework import config  # no public getter exists in TF 2.21

    fcn_lessons.setup(seed=0, verbose=False)
    assert config.is_op_determinism_enabled()


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_setup_refuses_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        fcn_lessons.setup(seed=seed)


def test_importing_the_package_has_no_side_effects():
    code = ("import os, sys, fcn_lessons, fcn_lessons.data; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules, 'TF_CPP_MIN_LOG_LEVEL' in os.environ)")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


def test_setup_hides_tensorflow_import_noise_only():
    code = "import fcn_lessons; fcn_lessons.setup(seed=0, verbose=False)"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert "oneDNN" not in out.stderr and "absl::InitializeLog" not in out.stderr, out.stderr


def test_noise_filter_passes_other_lines_through(capfd):
    with environment._drop_import_noise():
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on. blah\n")
        os.write(2, b"something a learner must see\n")
    err = capfd.readouterr().err
    assert "something a learner must see" in err and "oneDNN" not in err


def test_submodules_load_lazily():
    assert fcn_lessons.data.CLASS_NAMES[0] == "background"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fcn_lessons.nope  # noqa: B018


def test_release_memory_gives_freed_heap_memory_back():
    # In a fresh process: 250 MiB of small arrays (below glibc's mmap threshold, so from the C
    # heap), a live array above them, then `del`: the process keeps the freed pages until
    # release_memory() asks glibc to return them.
    code = ("import numpy as np; from fcn_lessons import environment as env\n"
            "blocks = [np.ones(8192) for _ in range(4000)]; pin = np.ones(8192)\n"
            "held = env.resident_memory_mib(); del blocks; kept = env.resident_memory_mib()\n"
            "out = env.release_memory(); print(held, kept, out['rss_before_mib'], out['rss_after_mib'], out['trimmed'])")
    import platform

    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        pytest.skip("resident memory is read from /proc, and malloc_trim is glibc's")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    held, kept, before, after = (float(v) for v in out[:4])
    assert out[4] == "True" and kept > held - 50 and before == pytest.approx(kept, abs=5)
    assert after < kept - 150, (held, kept, after)
