"""Running one submission: in bubblewrap where it works, always under limits.

Layout inside bubblewrap (``bwrap``, Debian/Ubuntu package ``bubblewrap``):

- read-only: the system (``/usr``, ``/etc`` and the ``/bin``, ``/lib*`` links), the
  Python installation and virtual environment running the grader, and the course
  package (``fcn_lessons/``) alone: not the rest of the course repository (no
  ``solutions/``), not the instructor's home, not other submissions;
- writable: one private scratch folder (``/grading``: the graded notebook, ``HOME``) and
  a private ``/tmp`` of bounded size, both gone afterwards;
- new namespaces: no network but a private loopback (the kernel and nbval talk over it),
  a private process tree (killing its first process ends every process of the
  submission), IPC and host name; a new session (no terminal to inject keys into).

Everywhere, with or without bubblewrap, :mod:`fcn_lessons.grade._confine` sets the limits
(:class:`Limits`) and, when the grader runs as root, drops to a user of its own per job
slot, so that the kernel enforces the process limit and Unix permissions protect the
instructor's files. A watchdog enforces the wall-clock limit per notebook and the total
memory of all the submission's processes, and kills every one of them at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

GIB, MIB = 2**30, 2**20
BWRAP_ENV = "FCN_LESSONS_BWRAP"  # path of bwrap to use; "" or a missing file: behave as if it were not installed
SANDBOX_ROOT = "/grading"  # the scratch folder as the submission sees it inside bubblewrap
WATCH_INTERVAL_S = 0.5
KILL_WAIT_S = 10.0
TAIL_BYTES = 64 * 1024  # of the sandbox's own stdout/stderr kept for the notes
RESULTS_BYTES = 16 * MIB  # most the plugin's report may hold
# uids for the job slots when running as root: far above any real account, one random
# block per grader run so that two graders on one machine never share a uid.
UID_RANGE = (3_000_000_000, 4_000_000_000)


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Memory is per process (address space) and in total (resident)."""

    memory_bytes: int = 6 * GIB
    processes: int = 256  # processes and threads: TensorFlow alone starts dozens of threads
    file_size_bytes: int = 1 * GIB
    output_bytes: int = 4 * MIB  # output kept per notebook; the rest is dropped and noted
    tmp_bytes: int = 512 * MIB  # the private /tmp (bubblewrap only)
    cell_timeout_s: int = 600
    notebook_timeout_s: int = 1800
    open_files: int = 4096

    def __post_init__(self):
        for name in ("memory_bytes", "processes", "file_size_bytes", "output_bytes", "tmp_bytes",
                     "cell_timeout_s", "notebook_timeout_s", "open_files"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive integer, received {value!r}.")
        if self.memory_bytes < 1 * GIB:
            raise ValueError(f"Limits.memory_bytes must be at least 1 GiB (TensorFlow alone maps about 3 GiB), "
                             f"received {self.memory_bytes}.")

    @property
    def cpu_seconds(self) -> int:
        """CPU seconds per process: the wall-clock limit on every core, a backstop only."""
        return self.notebook_timeout_s * (os.cpu_count() or 1)


@dataclass
class RunResult:
    """What came back from one sandboxed run."""

    returncode: int | None
    seconds: float
    events: list[dict] = field(default_factory=list)  # the plugin's report, in order
    killed: str | None = None  # why the watchdog killed it: "timeout", "memory", "processes"
    stdout_tail: str = ""
    stderr_tail: str = ""
    peak_processes: int = 0
    peak_memory_bytes: int = 0


def _bwrap_path() -> str | None:
    override = os.environ.get(BWRAP_ENV)
    if override is not None:
        return override if override and os.access(override, os.X_OK) else None
    return shutil.which("bwrap")


def _read_status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as f:
            return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    except OSError:
        return {}


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="utf-8") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class _Tail:
    """Drains a pipe in a thread, keeping only its last ``TAIL_BYTES``."""

    def __init__(self, stream):
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self.thread.start()

    def _drain(self, stream):
        for chunk in iter(lambda: stream.read1(65536), b""):
            self.chunks.append(chunk)
            self.size += len(chunk)
            while self.size - len(self.chunks[0]) >= TAIL_BYTES:
                self.size -= len(self.chunks.popleft())
        stream.close()

    def text(self) -> str:
        self.thread.join(timeout=5)
        return b"".join(self.chunks)[-TAIL_BYTES:].decode("utf-8", errors="replace")


def _read_events(fd: int, events: list[dict]) -> threading.Thread:
    def read():
        total = 0
        with os.fdopen(fd, "rb") as stream:
            for line in stream:
                total += len(line)
                if total > RESULTS_BYTES:
                    continue
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


class Sandbox:
    """How submissions run on this machine: ``kind`` is "bwrap" or "limits".

    Args:
        mode: "auto" (bubblewrap when it works, else limits only, with one warning),
            "bwrap" (bubblewrap or an error) or "none" (limits only).
        readonly: extra host paths the submission may read (bound read-only at the same place).
    """

    def __init__(self, limits: Limits, *, mode: str = "auto", package_dir=None, protected=(), readonly=()):
        if mode not in ("auto", "bwrap", "none"):
            raise ValueError(f"sandbox mode must be 'auto', 'bwrap' or 'none', received {mode!r}.")
        import fcn_lessons

        self.limits, self.mode = limits, mode
        self.package_dir = Path(package_dir or Path(fcn_lessons.__file__).parent).resolve()
        self.protected = [Path(p).resolve() for p in protected]  # must never be visible (solutions/)
        self.readonly = [Path(p) for p in readonly]
        self.bwrap = _bwrap_path()
        self.root = os.geteuid() == 0
        self.uid_base = secrets.randbelow(UID_RANGE[1] - UID_RANGE[0] - 10_000) + UID_RANGE[0]
        self.drop_uid = self.root
        self.kind = "none-probed"
        self.warning: str | None = None

    # -- set-up -----------------------------------------------------------------------
    def _python_paths(self) -> list[Path]:
        paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), self.package_dir}
        paths |= {Path(p) for p in (os.path.realpath(sys.executable),)}
        resolved = set()
        for p in paths:
            p = Path(os.path.realpath(p))
            if p.is_file():
                p = p.parent
            resolved.add(p)
        return sorted(resolved)

    def _check_protected(self, binds: list[Path]) -> None:
        for bind in binds:
            for protected in self.protected:
                if protected == bind or bind in protected.parents:
                    raise RuntimeError(f"the sandbox would expose {protected} through {bind}: install the "
                                       "course package outside the folder that holds solutions/.")

    def _bwrap_argv(self, scratch: Path) -> list[str]:
        argv = [self.bwrap, "--die-with-parent", "--new-session", "--hostname", "grading"]
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
        if not self.root:
            argv += ["--unshare-user", "--disable-userns"]
        for top in ("/usr", "/etc", "/opt"):
            if os.path.isdir(top):
                argv += ["--ro-bind", top, top]
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                argv += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                argv += ["--ro-bind", top, top]
        # The private /tmp first: binds below come after it, so a course or interpreter that
        # lives under /tmp (a clone in `mktemp -d`) stays visible instead of being covered.
        argv += ["--perms", "1777", "--size", str(self.limits.tmp_bytes), "--tmpfs", "/tmp"]
        binds = [p for p in self._python_paths() + self.readonly
                 if not any(str(p).startswith(top + "/") for top in ("/usr", "/etc", "/opt"))]
        binds = [p for p in sorted(set(binds)) if not any(other in p.parents for other in binds)]
        self._check_protected(binds)
        made: set[Path] = set()
        for path in binds:
            for parent in reversed(path.parents[:-1]):  # bwrap would copy the host's modes (0700 for /root)
                if parent not in made:
                    argv += ["--perms", "0755", "--dir", str(parent)]
                    made.add(parent)
            argv += ["--ro-bind", str(path), str(path)]
        argv += ["--proc", "/proc", "--dev", "/dev", "--bind", str(scratch), SANDBOX_ROOT, "--chdir", SANDBOX_ROOT, "--"]
        return argv

    def _confine_argv(self, slot: int) -> list[str]:
        lim = self.limits
        argv = [sys.executable, "-m", "fcn_lessons.grade._confine", "--memory", str(lim.memory_bytes),
                "--processes", str(self._process_limit()), "--file-size", str(lim.file_size_bytes),
                "--cpu", str(lim.cpu_seconds), "--open-files", str(lim.open_files)]
        if self.drop_uid:
            argv += ["--uid", str(self.uid_of(slot))]
        return argv + ["--"]

    def _process_limit(self) -> int:
        if self.kind == "bwrap" and not self.root:
            return self.limits.processes  # counted in the sandbox's own user namespace
        if self.drop_uid:
            return self.limits.processes  # counted for the slot's own user
        # the instructor's own user: RLIMIT_NPROC counts all their processes
        mine = sum(1 for pid in _all_pids() if _read_status(pid).get("Uid", "").split()[:1] == [str(os.getuid())])
        return mine + self.limits.processes

    def uid_of(self, slot: int) -> int:
        return self.uid_base + slot

    def probe(self) -> "Sandbox":
        """Decide ``kind`` by running a tiny Python inside; sets ``warning`` when falling back."""
        if self.mode == "none":
            self.kind = "limits"
        elif self.bwrap is None:
            if self.mode == "bwrap":
                raise RuntimeError("bubblewrap (bwrap) is not installed, and --sandbox bwrap requires it: "
                                   "install the Debian/Ubuntu package 'bubblewrap'.")
            self.kind = "limits"
            self.warning = ("bubblewrap (bwrap) is not installed: submissions run under resource limits only, "
                            "with no file-system or network isolation. Install the Debian/Ubuntu package "
                            "'bubblewrap' to sandbox them.")
        else:
            self.kind = "bwrap"
            ok, detail = self._try()
            if not ok:
                if self.mode == "bwrap":
                    raise RuntimeError(f"bubblewrap does not work here: {detail}")
                self.kind = "limits"
                self.warning = (f"bubblewrap ({self.bwrap}) does not work on this machine ({detail}): "
                                "submissions run under resource limits only, with no file-system or network "
                                "isolation.")
        if self.kind == "limits" and self.root:
            ok, detail = self._try()
            if not ok:  # e.g. the interpreter lives in root's private home
                self.drop_uid = False
                extra = (f"running as an unprivileged user failed ({detail}), so submissions run as root, "
                         "with a watchdog on their process count instead of the kernel's limit.")
                self.warning = f"{self.warning} Also, {extra}" if self.warning else extra
        if self.kind == "limits" and not self.root:
            extra = ("the process limit counts all your own processes; a submission that detaches "
                     "processes can outlive its run.")
            self.warning = f"{self.warning} Without bubblewrap, {extra}" if self.warning else None
        return self

    def _try(self) -> tuple[bool, str]:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="fcn-grade-probe-") as scratch:
            code = "import fcn_lessons.grade._plugin, nbval, ipykernel; print('sandbox ok')"
            result = self.run(Path(scratch), [sys.executable, "-c", code], {}, slot=0, timeout_s=120)
        if result.returncode == 0 and "sandbox ok" in result.stdout_tail:
            return True, ""
        detail = (result.stderr_tail or result.stdout_tail).strip().splitlines()
        return False, (detail[-1] if detail else f"exit status {result.returncode}")

    # -- running ----------------------------------------------------------------------
    def environment(self, scratch: Path, extra: dict[str, str]) -> dict[str, str]:
        inside = Path(SANDBOX_ROOT) if self.kind == "bwrap" else scratch
        env = {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(inside / "home"),
            "TMPDIR": "/tmp" if self.kind == "bwrap" else str(inside / "tmp"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "PYTHONSAFEPATH": "1",
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        }
        env.update(extra)
        return env

    def prepare(self, scratch: Path, slot: int) -> None:
        """Make the scratch folder's home and tmp, owned by the slot's user when dropping root."""
        for sub in ("home", "tmp"):
            (scratch / sub).mkdir(exist_ok=True)
        if self.drop_uid:
            uid = self.uid_of(slot)
            for path in [scratch, *scratch.rglob("*")]:
                os.chown(path, uid, uid, follow_symlinks=False)
            os.chmod(scratch, 0o700)

    def run(self, scratch: Path, argv: list[str], env: dict[str, str], *, slot: int,
            timeout_s: float | None = None, stop: threading.Event | None = None) -> RunResult:
        """Run ``argv`` confined, in ``scratch`` (which this prepares); kill everything it started at the end."""
        scratch = Path(scratch).resolve()
        self.prepare(scratch, slot)
        results_r, results_w = os.pipe()
        full_env = self.environment(scratch, {**env, "FCN_LESSONS_GRADE_RESULTS_FD": str(results_w)})
        command = (self._bwrap_argv(scratch) if self.kind == "bwrap" else []) + self._confine_argv(slot) + argv
        events: list[dict] = []
        start = time.monotonic()
        try:
            proc = subprocess.Popen(command, cwd=scratch if self.kind != "bwrap" else "/", env=full_env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    pass_fds=(results_w,), start_new_session=True)
        finally:
            os.close(results_w)
        reader = _read_events(results_r, events)
        out, err = _Tail(proc.stdout), _Tail(proc.stderr)
        result = RunResult(returncode=None, seconds=0.0, events=events)
        deadline = start + (timeout_s or self.limits.notebook_timeout_s)
        uid = self.uid_of(slot) if self.drop_uid else None
        try:
            while proc.poll() is None:
                members = self._members(proc.pid, uid)
                result.peak_processes = max(result.peak_processes, len(members))
                memory = self._memory(members)
                result.peak_memory_bytes = max(result.peak_memory_bytes, memory)
                if stop is not None and stop.is_set():
                    result.killed = "interrupted"
                elif time.monotonic() > deadline:
                    result.killed = "timeout"
                elif memory > self.limits.memory_bytes:
                    result.killed = "memory"
                elif uid is None and not (self.kind == "bwrap" and not self.root) \
                        and len(members) > self.limits.processes + 8:
                    result.killed = "processes"
                if result.killed:
                    break
                try:
                    proc.wait(timeout=WATCH_INTERVAL_S)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            self._kill(proc, uid)
            result.returncode = proc.returncode
            result.seconds = time.monotonic() - start
            reader.join(timeout=5)
            result.stdout_tail, result.stderr_tail = out.text(), err.text()
        return result

    def _members(self, root_pid: int | None, uid: int | None) -> list[int]:
        """Every process of this run: the descendants of ``root_pid`` (None: none), and all processes of ``uid``."""
        parents, members = {}, set()
        for pid in _all_pids():
            status = _read_status(pid)
            if not status:
                continue
            if uid is not None and status.get("Uid", "").split()[:1] == [str(uid)]:
                members.add(pid)
            try:
                parents[pid] = int(status.get("PPid", "0"))
            except ValueError:
                pass
        children: dict[int, list[int]] = {}
        for pid, parent in parents.items():
            children.setdefault(parent, []).append(pid)
        stack, seen = ([root_pid] if root_pid is not None else []), set()
        while stack:
            pid = stack.pop()
            if pid in seen:
                continue
            seen.add(pid)
            stack += children.get(pid, [])
        return sorted(p for p in members | seen if p in parents)

    def _memory(self, members: list[int]) -> int:
        """Resident memory of the run; proportional (PSS) when the plain sum passes the limit (shared pages)."""
        rss = 0
        for pid in members:
            value = _read_status(pid).get("VmRSS", "0 kB").split()[0]
            rss += int(value) * 1024 if value.isdigit() else 0
        if rss <= self.limits.memory_bytes:
            return rss
        return sum(_pss_bytes(pid) for pid in members)

    def _kill(self, proc: subprocess.Popen, uid: int | None) -> None:
        """SIGKILL every process of the run, until none is left (or ``KILL_WAIT_S`` passed).

        Descendants are found from ``proc`` only while it is not reaped (its pid cannot
        be reused until then); afterwards only the slot's own uid identifies processes,
        and with bubblewrap the end of its pid namespace has ended them all.
        """
        end = time.monotonic() + KILL_WAIT_S
        while True:
            unreaped = proc.returncode is None
            members = self._members(proc.pid if unreaped else None, uid)
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the group outlives its leader only while it has members
            except OSError:
                pass
            for pid in members:
                if pid != os.getpid():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            try:
                proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
            left = [p for p in self._members(None, uid) if _read_status(p).get("State", "Z")[:1] != "Z"]
            if (proc.returncode is not None and not left) or time.monotonic() > end:
                return
