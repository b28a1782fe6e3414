"""Command line of the benchmarks; see ``fcn_lessons.bench``."""

import argparse
import contextlib
import inspect
import json
import sys

from fcn_lessons.bench import BENCHMARKS, load, machine


RECORD_KEYS = ("benchmark", "machine")


def json_record(name: str, machine_line: str, figures) -> dict:
    """The one JSON object a benchmark prints: its name, the machine, and its figures at the top level.

    A benchmark returning ``{"32s": {...}, "16s": {...}}`` prints ``{"benchmark": ..., "machine":
    ..., "32s": {...}, "16s": {...}}``; figures that are not a dict, or that use one of
    ``RECORD_KEYS`` themselves, go under ``"figures"`` instead (nothing is overwritten).
    """
    record = {"benchmark": name, "machine": machine_line}
    if isinstance(figures, dict) and not set(figures) & {*RECORD_KEYS, "figures"}:
        return {**record, **figures}
    return {**record, "figures": figures}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fcn_lessons.bench",
        description="Benchmarks behind docs/RESULTS.md. Options apply to the benchmarks that take them.")
    parser.add_argument("name", choices=[*BENCHMARKS, "all"])
    options = {}
    for name in BENCHMARKS:
        for param in inspect.signature(load(name)).parameters.values():
            if param.kind is param.KEYWORD_ONLY and isinstance(param.default, (int, float)):
                options.setdefault(param.name, type(param.default))
    for option, kind in sorted(options.items()):
        parser.add_argument(f"--{option.replace('_', '-')}", type=kind, default=None)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object of figures per benchmark (tables go to stderr)")
    args = parser.parse_args(argv)
    if not args.json:
        print(f"machine: {machine()}")
    for name in (list(BENCHMARKS) if args.name == "all" else [args.name]):
        function = load(name)
        accepted = inspect.signature(function).parameters
        given = {k: v for k, v in vars(args).items() if k in accepted and v is not None}
        if args.json:
            with contextlib.redirect_stdout(sys.stderr):
                figures = function(**given)
            print(json.dumps(json_record(name, machine(), figures), default=str))
            continue
        print()
        function(**given)
    return 0


if __name__ == "__main__":
    sys.exit(main())
