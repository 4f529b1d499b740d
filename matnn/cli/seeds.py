"""``matnn seeds``: the document's network trained from many seeds at once."""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import TYPE_CHECKING, Iterator

import numpy as np

from .. import cluster
from ..seeds import CONVERGED, SeedRuns, run_bytes, train_seeds
from . import plots
from .errors import CommandError, check_memory
from .options import (AT_LEAST_ONE, POSITIVE, Commands, add_threads_option, checked,
                      progress_shown)

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["add_parser", "run"]

#: Seconds to wait for a --scheduler to answer, unless --timeout says otherwise.
TIMEOUT = 10


def add_parser(commands: Commands) -> None:
    seeds = commands.add_parser(
        "seeds",
        help="train the document's network from many seeds at once",
        description=(
            "Train the document's network from seeds 0..RUNS-1 (each as after "
            "np.random.seed(s)) all at once, as one ensemble, and report how many "
            "runs classify Emily F and Frank M, the quantiles of the final loss, "
            "and the slowest-converging seeds: those needing the most epochs "
            "before the loss first falls below 0.01 (runs that never do come "
            "first). With several --lr rates every seed trains at each. With "
            "--workers or --scheduler the runs train in chunks on a Dask cluster, "
            "with the same results."
        ),
    )
    seeds.add_argument("--runs", type=AT_LEAST_ONE, default=1000,
                       help="number of seeds (default 1000)")
    seeds.add_argument("--epochs", type=AT_LEAST_ONE, default=1000,
                       help="epochs per run (default 1000, as the document)")
    seeds.add_argument("--lr", metavar="RATE[,RATE...]", default=[0.1],
                       type=checked(lambda t: [float(s) for s in t.split(",")],
                                    lambda rs: all(np.isfinite(r) and r > 0 for r in rs),
                                    "expected comma-separated numbers > 0 such as 0.01,0.1,1"),
                       help="learning rate, or several to compare (default 0.1)")
    seeds.add_argument("--slowest", metavar="N", default=5,
                       type=checked(int, lambda n: n >= 0, "expected an integer >= 0"),
                       help="how many of the slowest-converging seeds to list (default 5)")
    seeds.add_argument("--plot", metavar="PNG",
                       help="also draw a histogram of final losses (needs matplotlib)")
    add_threads_option(seeds)
    where = seeds.add_mutually_exclusive_group()
    where.add_argument("--workers", metavar="N", type=AT_LEAST_ONE,
                       help="train on a Dask LocalCluster of N worker processes, started for "
                            "the run and closed after (needs matnn[dask])")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="train on the Dask cluster whose scheduler is at ADDRESS, such as "
                            "tcp://10.0.0.5:8786 (needs matnn[dask])")
    seeds.add_argument("--timeout", metavar="SECONDS", type=POSITIVE,
                       help=f"how long to wait for the --scheduler to answer (default {TIMEOUT})")
    seeds.add_argument("--progress", action=argparse.BooleanOptionalAction,
                       help="with --workers or --scheduler, show a progress bar of the chunks "
                            "done on stderr (default: only when stderr is a terminal)")
    seeds.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.timeout is not None and args.scheduler is None:
        raise CommandError("--timeout is how long to wait for --scheduler; give --scheduler too")
    if args.progress and args.workers is None and args.scheduler is None:
        raise CommandError("--progress shows the chunks done on a cluster; give --workers or "
                           "--scheduler too")
    if args.plot:
        plots.check_plot_path("--plot", args.plot)  # fail now rather than after training
    rates = args.lr
    check_memory(f"{args.runs} runs x {len(rates)} learning "
                 f"rate{'s' if len(rates) > 1 else ''} x {args.epochs} epochs",
                 args.runs * len(rates) * run_bytes(args.epochs))
    with _client(args) as client:
        start = time.perf_counter()
        try:
            results = train_seeds(range(args.runs), rates, args.epochs, client=client,
                                  progress=client is not None and progress_shown(args.progress))
        except ConnectionError as exc:  # a scheduler without workers
            raise CommandError(str(exc)) from None
        elapsed = time.perf_counter() - start

    print(f"== The document's network trained from {args.runs} seeds at once")
    print(f"Run s starts from np.random.seed(s), s = 0..{args.runs - 1}, as `matnn demo --seed s` "
          "does;")
    print(f"each trains on the 4 people for {args.epochs} epochs of per-sample SGD in "
          f"dataset order, learning rate {', '.join(f'{lr:g}' for lr in rates)}.")
    for r in results:
        print()
        _print_seed_runs(r, args.slowest, CONVERGED)
    if len(results) > 1:
        print()
        print("== Learning rates side by side")
        print(f"{'rate':>8}  {'Emily F, Frank M':>16}  {'median final loss':>17}  "
              f"{f'median epochs to < {CONVERGED:g}':>24}  {'diverged':>8}")
        for r in results:
            epochs = r.epochs_to(CONVERGED)
            reached = epochs[epochs > 0]
            median = (f"{int(np.quantile(reached, 0.5, method='inverted_cdf'))}"
                      if reached.size * 2 > epochs.size else "never")
            print(f"{r.learning_rate:>8g}  {r.correct.mean():>16.1%}  "
                  f"{np.median(r.final_loss):>17.5f}  {median:>24}  {int(r.failed.sum()):>8}")
    print()
    where = ("as one ensemble" if args.workers is None and args.scheduler is None
             else f"on a LocalCluster of {args.workers} worker processes" if args.scheduler is None
             else f"on the Dask cluster at {args.scheduler}")
    print(f"Trained {args.runs * len(rates)} runs x {args.epochs} epochs {where} "
          f"in {elapsed:.2f} s")
    if args.plot:
        plots.plot_final_losses(args.plot, results, args.epochs)
    return 0


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Client | None]:
    """The Dask client of --workers or --scheduler, or None to train here."""
    if args.workers is None and args.scheduler is None:
        yield None
        return
    with contextlib.ExitStack() as stack:
        try:
            if args.workers is not None:
                client = stack.enter_context(cluster.local_cluster(args.workers))
            else:
                timeout = TIMEOUT if args.timeout is None else args.timeout
                client = stack.enter_context(cluster.connect(args.scheduler, timeout))
        except (ImportError, ConnectionError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        yield client


def _print_seed_runs(r: SeedRuns, n_slowest: int, threshold: float) -> None:
    n = len(r.seeds)
    print(f"== Learning rate {r.learning_rate:g}")
    print(f"Emily classified F and Frank M: {int(r.correct.sum())} of {n} runs "
          f"({r.correct.mean():.1%})")
    levels = (0, 0.05, 0.25, 0.5, 0.75, 0.95, 1)
    names = ("min", "5%", "25%", "median", "75%", "95%", "max")
    values = np.quantile(r.final_loss, levels)
    print("Final loss: " + ", ".join(f"{k} {v:.5f}" for k, v in zip(names, values)))
    epochs = r.epochs_to(threshold)
    reached = epochs[epochs > 0]
    never = n - reached.size
    if reached.size:
        q = np.quantile(reached, (0.5, 0.95, 1), method="inverted_cdf")
        print(f"Epochs until the loss first falls below {threshold:g} (runs that get there): "
              f"median {q[0]}, 95% {q[1]}, max {q[2]}; {never} of {n} runs never do")
    else:
        print(f"Epochs until the loss first falls below {threshold:g}: no run gets there")
    print(f"Slowest to converge (runs that never get below {threshold:g} first, "
          "highest final loss first; then most epochs):")
    print(f"{'seed':>8}  {'epochs':>7}  {'final loss':>10}  {'Emily':>6}  {'Frank':>6}")
    for i in r.slowest(n_slowest, threshold):
        shown = "never" if epochs[i] < 0 else str(epochs[i])
        emily, frank = r.predictions[i]
        print(f"{r.seeds[i]:>8}  {shown:>7}  {r.final_loss[i]:>10.5f}  {emily:>6.3f}  {frank:>6.3f}")
    failed = r.seeds[r.failed]
    if failed.size:
        print(f"Diverged, frozen at their last finite parameters: {failed.size} runs "
              f"(seeds {', '.join(map(str, failed[:10]))}{', ...' if failed.size > 10 else ''})")
    else:
        print("No run diverged.")
