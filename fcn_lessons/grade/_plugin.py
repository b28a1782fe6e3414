"""The pytest plugin the grader loads into nbval's run (``-p fcn_lessons.grade._plugin``).

It runs in the pytest process inside the sandbox, never in the kernel, and:

- reports each cell's outcome from pytest's own report hook, as one JSON line per cell on
  a pipe only the grader reads (its descriptor number comes in the environment variable
  ``FCN_LESSONS_GRADE_RESULTS_FD``, which is removed before the kernel starts, and the
  kernel does not inherit the descriptor). What a cell prints is never read as a result;
- makes this process non-dumpable, so the kernel (same user) can neither ptrace it nor
  open its descriptors through ``/proc``;
- notices a dead kernel within a second instead of waiting out the cell timeout
  (nbval waits for a reply that never comes, see ``nbval/kernel.py``: ``await_reply``);
- gives the reference's own cells (set-up, lesson code) the timeout in
  ``FCN_LESSONS_GRADE_REFERENCE_CELL_TIMEOUT`` and keeps nbval's ``--nbval-cell-timeout``
  for the cells that run a learner's code (exercise and check cells), so a slow machine
  importing TensorFlow is not mistaken for a learner's infinite loop;
- caps the output kept per notebook (``FCN_LESSONS_GRADE_OUTPUT_BYTES``): beyond it, text
  and data are dropped and counted.
"""

from __future__ import annotations

import ctypes
import json
import os
import time
from queue import Empty

import pytest

RESULTS_FD_ENV = "FCN_LESSONS_GRADE_RESULTS_FD"
OUTPUT_BYTES_ENV = "FCN_LESSONS_GRADE_OUTPUT_BYTES"
REFERENCE_TIMEOUT_ENV = "FCN_LESSONS_GRADE_REFERENCE_CELL_TIMEOUT"
PR_SET_DUMPABLE = 4
MESSAGE_CHARS = 4000  # longest error message reported per cell
POLL_S = 1.0  # how often a waiting cell checks that the kernel is alive

_results = None
_output_budget = None
_dropped = {"bytes": 0}
_cell_dropped: dict[int, int] = {}
_current_cell = {"index": None}
_timeouts = {"learner": None, "reference": None}


class KernelDied(RuntimeError):
    """The kernel process exited while a cell ran."""


def _emit(record: dict) -> None:
    if _results is not None:
        _results.write(json.dumps(record) + "\n")
        _results.flush()


def _size(content: dict, msg_type: str) -> int:
    if msg_type == "stream":
        return len(content.get("text", ""))
    if msg_type in ("display_data", "execute_result", "update_display_data"):
        return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in content.get("data", {}).values())
    return 0


def _capped(get_message):
    def wrapper(self, timeout=None, stream="iopub"):
        msg = get_message(self, timeout=timeout, stream=stream)
        kind = msg.get("msg_type")
        size = _size(msg.get("content", {}), kind)
        if size and _output_budget is not None:
            if size > _output_budget["left"]:
                _dropped["bytes"] += size
                cell = _current_cell["index"]
                _cell_dropped[cell] = _cell_dropped.get(cell, 0) + size
                if kind == "stream":
                    msg["content"]["text"] = ""
                else:
                    msg["content"]["data"] = {}
            else:
                _output_budget["left"] -= size
        return msg
    return wrapper


def _await_reply(self, msg_id, timeout=None):
    """nbval's ``RunningKernel.await_reply``, polling so that a dead kernel fails the cell at once."""
    deadline = None if timeout is None else time.monotonic() + float(timeout)
    while True:
        wait = POLL_S if deadline is None else min(POLL_S, deadline - time.monotonic())
        if wait <= 0:
            raise Empty
        try:
            msg = self.get_message(stream="shell", timeout=wait)
        except Empty:
            if not self.is_alive():
                raise KernelDied("the kernel died while this cell ran (it exited, crashed or hit a limit)") from None
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            if msg["content"]["status"] == "aborted":
                raise RuntimeError("Kernel aborted execution request")
            return


def pytest_configure(config):
    global _results, _output_budget
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    fd = os.environ.pop(RESULTS_FD_ENV, None)
    budget = os.environ.pop(OUTPUT_BYTES_ENV, None)
    reference_timeout = os.environ.pop(REFERENCE_TIMEOUT_ENV, None)
    _timeouts["learner"] = config.option.nbval_cell_timeout
    _timeouts["reference"] = float(reference_timeout) if reference_timeout else None
    if fd is not None:
        _results = os.fdopen(int(fd), "w", encoding="utf-8", closefd=True)
        os.set_inheritable(int(fd), False)
    if budget is not None:
        _output_budget = {"left": int(budget)}
    from nbval import kernel, plugin

    kernel.RunningKernel.await_reply = _await_reply
    plugin.IPyNbFile.get_kernel_message = _capped(plugin.IPyNbFile.get_kernel_message)
    _emit({"event": "start", "pid": os.getpid(), "time": time.time()})


def _error_of(item, excinfo) -> dict:
    """Why a cell failed: nbval's timeout or a dead kernel first, else the kernel's own error
    (name and value: for a check, its message to the learner), else pytest's."""
    value = excinfo.value if excinfo is not None else None
    text = str(value) if value is not None else ""
    if isinstance(value, KernelDied):
        return {"ename": "KernelDied", "evalue": text[:MESSAGE_CHARS]}
    if type(value).__name__ == "NbCellError" and "Timeout of" in text:
        return {"ename": "CellTimeout", "evalue": text[:MESSAGE_CHARS]}
    for out in reversed(getattr(item, "test_outputs", None) or []):
        if out.get("output_type") == "error":
            return {"ename": str(out.get("ename", ""))[:200], "evalue": str(out.get("evalue", ""))[:MESSAGE_CHARS]}
    if value is None:
        return {}
    return {"ename": type(value).__name__, "evalue": text[:MESSAGE_CHARS]}


def pytest_runtest_setup(item):
    _current_cell["index"] = getattr(item, "cell_num", None)
    cell = getattr(item, "cell", None)
    if cell is None or _timeouts["reference"] is None:
        return
    meta = cell.get("metadata", {}).get("fcn_lessons", {})
    learner = isinstance(meta, dict) and ("exercises" in meta or "checks" in meta)
    item.config.option.nbval_cell_timeout = _timeouts["learner"] if learner else _timeouts["reference"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    cell = getattr(item, "cell_num", None)
    if cell is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        record = {"event": "cell", "cell": cell, "when": report.when, "outcome": report.outcome,
                  "xfail": bool(getattr(report, "wasxfail", "")), "seconds": round(call.duration, 3),
                  "dropped_output_bytes": _cell_dropped.get(cell, 0)}
        if not report.passed:
            record["error"] = _error_of(item, call.excinfo)
        _emit(record)


def pytest_sessionfinish(session, exitstatus):
    _emit({"event": "finish", "exitstatus": int(exitstatus), "dropped_output_bytes": _dropped["bytes"]})
