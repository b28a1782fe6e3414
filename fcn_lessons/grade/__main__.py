"""Command line of the grader; see ``fcn_lessons.grade``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fcn_lessons.grade import DOC_USAGE
from fcn_lessons.grade.core import GradingError, grade_class, parse_shard
from fcn_lessons.grade.gradebook import GradebookError, merge
from fcn_lessons.grade.reference import ReferenceProblem
from fcn_lessons.grade.sandbox import GIB, MIB, Limits


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, received {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, received {text!r}")
    return value


def grade_parser() -> argparse.ArgumentParser:
    d = Limits()
    p = argparse.ArgumentParser(prog="python -m fcn_lessons.grade", description=DOC_USAGE,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("submissions", metavar="SUBMISSIONS", help="folder with SUBMISSIONS/<student>/<NN_slug>.ipynb")
    p.add_argument("--out", required=True, metavar="GRADEBOOK.csv", help="the gradebook to write or update")
    p.add_argument("--feedback", metavar="DIR", help="feedback pages (default: <gradebook>-feedback/ beside it)")
    p.add_argument("--jobs", type=_positive_int, help="submissions graded at a time (default: the CPU count)")
    p.add_argument("--timeout", type=_positive_int, default=d.notebook_timeout_s, metavar="SECONDS",
                   help=f"wall-clock limit per notebook (default {d.notebook_timeout_s})")
    p.add_argument("--cell-timeout", type=_positive_int, default=d.cell_timeout_s, metavar="SECONDS",
                   help=f"wall-clock limit per cell (default {d.cell_timeout_s})")
    p.add_argument("--memory", type=_positive_float, default=d.memory_bytes / GIB, metavar="GB",
                   help=f"memory per submission, GiB (default {d.memory_bytes / GIB:g})")
    p.add_argument("--processes", type=_positive_int, default=d.processes,
                   help=f"processes and threads per submission (default {d.processes})")
    p.add_argument("--max-output", type=_positive_float, default=d.output_bytes / MIB, metavar="MB",
                   help=f"output kept per notebook, MiB (default {d.output_bytes / MIB:g})")
    p.add_argument("--force", action="store_true",
                   help="re-grade every submission, and replace a gradebook this grader did not write (kept as .bak)")
    p.add_argument("--shard", metavar="K/N", help="grade only the K-th of N slices (needs --seed)")
    p.add_argument("--seed", type=int, help="the hidden cases' seed (default: the gradebook's, else a new one)")
    p.add_argument("--sandbox", choices=["auto", "bwrap", "none"], default="auto",
                   help="auto: bubblewrap when it works (default); bwrap: require it; none: limits only")
    p.add_argument("--solutions", metavar="DIR", help="the course's solutions/ (default: the installed course's)")
    p.add_argument("--quick", action="store_true", help="run the notebooks in quick mode (FCN_LESSONS_QUICK=1)")
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["merge"]:
            p = argparse.ArgumentParser(prog="python -m fcn_lessons.grade merge",
                                        description="Join gradebooks (e.g. one per --shard) into one.")
            p.add_argument("inputs", nargs="+", metavar="GRADEBOOK.csv")
            p.add_argument("--out", required=True, metavar="ALL.csv")
            p.add_argument("--force", action="store_true", help="replace --out if it exists")
            args = p.parse_args(argv[1:])
            rows, numbers = merge(args.inputs, args.out, force=args.force)
            print(f"wrote {args.out}: {len(rows)} rows from {len(args.inputs)} gradebooks")
            return 0
        args = grade_parser().parse_args(argv)
        limits = Limits(memory_bytes=int(args.memory * GIB), processes=args.processes,
                        output_bytes=int(args.max_output * MIB), cell_timeout_s=min(args.cell_timeout, args.timeout),
                        notebook_timeout_s=args.timeout)
        report = grade_class(args.submissions, args.out, feedback_dir=args.feedback, jobs=args.jobs,
                             limits=limits, force=args.force, shard=parse_shard(args.shard) if args.shard else None,
                             seed=args.seed, sandbox_mode=args.sandbox, solutions_dir=args.solutions,
                             quick=args.quick)
    except (GradingError, GradebookError, ReferenceProblem, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report["summary"])
    plot = f"; score plot: {report['plot']}" if Path(report["plot"]).is_file() else ""
    print(f"gradebook: {args.out}; feedback: {report['feedback']}/{plot}")
    return 130 if report["interrupted"] else 0


if __name__ == "__main__":
    sys.exit(main())
