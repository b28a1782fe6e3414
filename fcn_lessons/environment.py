"""The course environment: one seeded, deterministic, quiet set-up per notebook.

``setup(seed)`` is the first thing every notebook calls. ``quick_mode()`` is the one
place that reads ``FCN_LESSONS_QUICK``; lessons size their work with ``by_mode``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import re
import sys
import tempfile

QUICK_ENV_VAR = "FCN_LESSONS_QUICK"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

# Lines TensorFlow's C++ runtime writes to file descriptor 2 while it is imported.
# Measured with tensorflow-cpu 2.21: the oneDNN notice is printed (twice) whatever
# TF_CPP_MIN_LOG_LEVEL says, because it is logged before absl's logging starts.
# setup() drops exactly these lines and passes anything else through.
_IMPORT_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|oneDNN custom operations are on"
    r"|cpu_feature_guard\.cc"
    r"|To enable the following instructions:"
    r"|rebuild TensorFlow with the appropriate compiler flags"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|TF-TRT Warning"
)


def quick_mode() -> bool:
    """True when ``FCN_LESSONS_QUICK`` asks for the small, fast version of a lesson.

    The tests set ``FCN_LESSONS_QUICK=1``; a learner normally leaves it unset.
    Accepted values: 1/true/yes/on and 0/false/no/off (any case), or unset/empty.
    """
    raw = os.environ.get(QUICK_ENV_VAR, "")
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{QUICK_ENV_VAR}={raw!r} is not understood: use 1 (quick, as the tests do) "
        f"or 0 / unset (the learner-sized lesson)."
    )


def by_mode(*, full, quick):
    """Return ``quick`` in quick mode and ``full`` otherwise.

    Example: ``NUM_EPOCHS = by_mode(full=8, quick=2)``.
    """
    return quick if quick_mode() else full


@contextlib.contextmanager
def _drop_import_noise():
    """Capture file descriptor 2, then re-emit every line that is not known TF noise."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real fd 2 (some embedded interpreters): nothing to filter
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines() if line and not _IMPORT_NOISE.search(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def _import_tensorflow():
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    # Level 3 hides C++ log lines up to ERROR. Measured with TF 2.21 + Keras 3.15: every
    # model.fit logs a harmless "E ... NodeDef mentions attribute use_unbounded_threadpool"
    # at level 2. Real failures still raise Python exceptions. A value the learner set wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _drop_import_noise():
        import tensorflow
    return tensorflow


def _describe_devices(tf) -> tuple[list[str], bool]:
    devices = ["CPU"]
    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            name = tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
        except (RuntimeError, ValueError):
            name = gpu.name
        devices.append(f"GPU ({name})")
    return devices, bool(gpus)


def setup(seed: int = 0, *, verbose: bool = True) -> dict:
    """Seed everything, make TensorFlow deterministic and quiet, report the environment.

    Args:
        seed: a non-negative int; seeds Python's ``random``, numpy's global generator,
            and Keras/TensorFlow (``keras.utils.set_random_seed``).
        verbose: print the one-line report (and hints, if something needs attention).

    Returns:
        dict with ``python``, ``tensorflow``, ``keras``, ``backend``, ``devices``
        (list of str), ``gpu`` (bool), ``colab`` (bool), ``quick`` (bool), ``seed``.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, received {seed!r}.")
    quick = quick_mode()  # fail early on a malformed FCN_LESSONS_QUICK

    tf = _import_tensorflow()
    import keras
    import numpy as np

    if int(keras.__version__.split(".")[0]) < 3:
        raise RuntimeError(
            f"The course needs Keras 3, found keras {keras.__version__}. "
            "Install the pinned requirements (see README), and unset TF_USE_LEGACY_KERAS."
        )
    tf.get_logger().setLevel("ERROR")
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()

    devices, has_gpu = _describe_devices(tf)
    facts = {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "devices": devices,
        "gpu": has_gpu,
        "colab": "google.colab" in sys.modules,
        "quick": quick,
        "seed": seed,
    }
    if verbose:
        print(_report(facts))
    return facts


def _report(facts: dict) -> str:
    lines = [
        f"Python {facts['python']} | TensorFlow {facts['tensorflow']} | Keras {facts['keras']} "
        f"(backend: {facts['backend']}) | devices: {', '.join(facts['devices'])} | "
        f"Colab: {'yes' if facts['colab'] else 'no'} | quick mode: "
        f"{'on' if facts['quick'] else 'off'} | seed: {facts['seed']} (deterministic ops on)"
    ]
    if facts["backend"] != "tensorflow":
        lines.append(
            "Note: KERAS_BACKEND is not 'tensorflow'; the course is tested on TensorFlow only "
            "(unset KERAS_BACKEND, then restart the kernel)."
        )
    if not facts["gpu"]:
        lines.append(
            "No GPU found: every lesson runs on the CPU. For lesson 06, use a GPU runtime "
            "(Colab: Runtime > Change runtime type > GPU)."
        )
    return "\n".join(lines)


def peak_memory_mib() -> float | None:
    """The peak resident memory of this process (the notebook's kernel) so far, in MiB.

    Linux reports it as ``VmHWM`` in ``/proc/self/status``; elsewhere ``resource.getrusage``'s
    ``ru_maxrss`` is used (kibibytes on Linux, bytes on macOS). None where neither exists
    (Windows). Lessons print it in their last cell, so ``docs/RESULTS.md`` can say how much
    memory each lesson's kernel needs.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # the value is in kB (KiB)
    except OSError:
        pass
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def resident_memory_mib() -> float | None:
    """This process's resident memory now (``VmRSS`` in ``/proc/self/status``), in MiB; None off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def release_memory() -> dict:
    """Hand memory back to the system after a lesson drops its big models.

    Delete your own references first (``del model``): this cannot see them. Then it clears
    Keras' global state (``keras.backend.clear_session()``, which drops Keras' references to
    old layers and models), runs the garbage collector, and, where the C library is glibc,
    asks it to return freed heap pages to the system (``malloc_trim(0)``): without that the
    freed memory stays in the process, reusable by it but counted in its resident size.

    Returns:
        dict with ``rss_before_mib`` and ``rss_after_mib`` (None off Linux) and ``trimmed``
        (True where ``malloc_trim`` was called).
    """
    import ctypes
    import ctypes.util
    import gc

    before = resident_memory_mib()
    if "keras" in sys.modules:  # nothing to clear if Keras was never imported
        sys.modules["keras"].backend.clear_session()
    gc.collect()
    trimmed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            trim = getattr(libc, "malloc_trim", None)  # glibc only (not musl)
            if trim is not None:
                trim(0)
                trimmed = True
        except OSError:
            pass
    return {"rss_before_mib": before, "rss_after_mib": resident_memory_mib(), "trimmed": trimmed}
