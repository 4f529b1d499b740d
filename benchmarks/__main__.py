"""``python -m benchmarks [--quick] [--out DIR] [--case NAME ...]``."""

import argparse
import sys
import time
from pathlib import Path

from .harness import Bench, discover_cases
from .report import busy_warning, machine, print_case, print_summary, write_json, write_plot

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time the scalar shim against the matrix network, side by side.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: tiny sizes, one repeat, a few seconds")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder for results.json and the plot (default {DEFAULT_OUT})")
    parser.add_argument("--case", action="append", metavar="NAME",
                        help="run only this case (repeatable)")
    args = parser.parse_args(argv)

    try:
        cases = discover_cases(args.case)
    except ValueError as exc:
        parser.error(str(exc))
    bench = Bench(quick=args.quick)
    info = machine()
    print(f"matnn benchmarks ({'quick' if args.quick else 'full'}) on {info['summary']}")
    warning = busy_warning(info)
    if warning:
        print(warning)
    results, started = [], time.perf_counter()
    for name, module in cases:
        print(f"\n== {name}: {module.TITLE}")
        rows = []
        for result in module.run(bench):
            result.case = name
            rows.append(result)
        print_case(rows)
        results += rows
    elapsed = time.perf_counter() - started
    print_summary(results, elapsed, args.quick)

    args.out.mkdir(parents=True, exist_ok=True)
    path = write_json(args.out / "results.json", results, info, args.quick, elapsed,
                      titles={name: module.TITLE for name, module in cases})
    print(f"\nraw results: {path}")
    print(write_plot(args.out / "time_per_sample.png", results))
    return 0 if all(r.agreed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
