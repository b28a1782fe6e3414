"""The last step before a submission runs: resource limits, an unprivileged user, then ``exec``.

The grader starts every submission as::

    python -m fcn_lessons.grade._confine --memory BYTES --processes N --file-size BYTES
        --cpu SECONDS --open-files N [--uid U --gid G] -- COMMAND [ARGS...]

(inside bubblewrap when it works). In order, this process:

1. sets the resource limits (``setrlimit``), soft and hard, so nothing started later can
   raise them: address space (``RLIMIT_AS``, per process), processes and threads of the
   user (``RLIMIT_NPROC``), size of any one file written (``RLIMIT_FSIZE``), CPU seconds
   per process (``RLIMIT_CPU``; SIGKILL 5 s after SIGXCPU), open files, no core dumps;
2. when started as root with ``--uid``: drops every group, then the group and user ids to
   ``G`` and ``U``. The kernel enforces ``RLIMIT_NPROC`` only for users other than root
   (measured: as root, 30 processes started under a limit of 20), and a user that owns no
   file cannot write any the system did not make world-writable;
3. sets ``no_new_privs`` (set-user-id programs stop working), and execs ``COMMAND``.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import resource
import sys

PR_SET_NO_NEW_PRIVS = 38
CPU_GRACE_S = 5  # between SIGXCPU (soft limit) and SIGKILL (hard limit)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    return value


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m fcn_lessons.grade._confine", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memory", type=_positive, required=True, help="address space per process, bytes")
    parser.add_argument("--processes", type=_positive, required=True, help="processes and threads of the user")
    parser.add_argument("--file-size", type=_positive, required=True, help="largest file written, bytes")
    parser.add_argument("--cpu", type=_positive, required=True, help="CPU seconds per process")
    parser.add_argument("--open-files", type=_positive, default=4096)
    parser.add_argument("--uid", type=int, help="run as this user (only when started as root)")
    parser.add_argument("--gid", type=int, help="and this group (default: the uid)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if not args.command:
        parser.error("give the command to run after --")
    return args


def apply_limits(*, memory: int, processes: int, file_size: int, cpu: int, open_files: int) -> None:
    """Set every limit, soft = hard, so that no descendant can raise it again."""
    limits = {
        resource.RLIMIT_AS: (memory, memory),
        resource.RLIMIT_NPROC: (processes, processes),
        resource.RLIMIT_FSIZE: (file_size, file_size),
        resource.RLIMIT_CPU: (cpu, cpu + CPU_GRACE_S),
        resource.RLIMIT_NOFILE: (open_files, open_files),
        resource.RLIMIT_CORE: (0, 0),
    }
    for which, (soft, hard) in limits.items():
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY and os.geteuid() != 0:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(which, (soft, hard))


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` for good (real, effective and saved ids), with no other groups."""
    if os.geteuid() != 0:
        raise PermissionError(f"--uid {uid} needs root; this process runs as uid {os.geteuid()}.")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.geteuid() != uid or os.getuid() != uid:  # setresuid cannot half-succeed, but check
        raise PermissionError(f"could not become uid {uid}.")


def no_new_privileges() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


def main(argv=None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    apply_limits(memory=args.memory, processes=args.processes, file_size=args.file_size,
                 cpu=args.cpu, open_files=args.open_files)
    if args.uid is not None:
        drop_privileges(args.uid, args.uid if args.gid is None else args.gid)
    no_new_privileges()
    try:
        os.execvp(args.command[0], args.command)
    except OSError as err:
        print(f"fcn_lessons.grade._confine: cannot run {args.command[0]!r}: {err}", file=sys.stderr)
        return 127
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
