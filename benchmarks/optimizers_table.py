"""Every optimizer on one small problem: final loss and time, as a Markdown table.

``python -m benchmarks.optimizers_table`` prints the table the README shows
under "Optimizers". The problem is the lesson's, made larger: 1000 synthetic
people (:func:`benchmarks.workloads.people`), features standardised, the
lesson's 2-2-1 sigmoid network with the MSE, from one seeded start. The
step-by-step optimizers run 100 epochs of batch 32 in one seeded shuffled
order; L-BFGS runs full-batch until scipy stops it. The table gives the
training loss after 10 epochs (L-BFGS: iterations) and at the end, the loss
and accuracy on 1000 other people, and the time: the best of three runs, each
training a fresh copy of the start.
"""

from __future__ import annotations

import argparse
import time


from matnn import LBFGS, SGD, Adam, AdamW, Network

from .workloads import people

N, N_TEST = 1000, 1000
EPOCHS, BATCH = 100, 32
REPEATS = 3

#: (name, fit arguments); each is the usual starting point for its method.
RUNS = (
    ("plain SGD (the lesson's rule)", dict(learning_rate=0.5)),
    ("SGD, momentum 0.9", dict(optimizer=lambda: SGD(0.05, momentum=0.9))),
    ("Adam", dict(optimizer=lambda: Adam(0.01))),
    ("AdamW, weight decay 0.01", dict(optimizer=lambda: AdamW(0.01, weight_decay=0.01))),
    ("L-BFGS", dict(optimizer=lambda: LBFGS(max_iter=200))),
)


def problem():
    """Training and test data, standardised with the training set's statistics."""
    X, y = people(N, seed=0)
    X_test, y_test = people(N_TEST, seed=1)
    mean, std = X.mean(axis=0), X.std(axis=0)
    return (X - mean) / std, y, (X_test - mean) / std, y_test


def train(start, kwargs, X, y):
    """Fit a copy of ``start``; the network, its history and the seconds it took."""
    net = start.copy()
    kwargs = {k: v() if callable(v) else v for k, v in kwargs.items()}
    if not isinstance(kwargs.get("optimizer"), LBFGS):
        kwargs.update(epochs=EPOCHS, batch_size=BATCH, seed=0)
    t0 = time.perf_counter()
    history = net.fit(X, y, **kwargs)
    return net, history, time.perf_counter() - t0


def table(repeats=REPEATS):
    """The Markdown table, one row per optimizer."""
    X, y, X_test, y_test = problem()
    start = Network.from_sizes([2, 2, 1], seed=0)
    rows = [
        "| optimizer | epochs (L-BFGS: iterations) | training loss after 10 | final "
        "training loss | test loss | test accuracy | time |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, kwargs in RUNS:
        runs = [train(start, kwargs, X, y) for _ in range(repeats)]
        net, history, _ = runs[0]
        seconds = min(t for *_, t in runs)
        steps = f"{len(history)}" + ("" if history.converged is None else
                                     f" ({'converged' if history.converged else 'stopped'})")
        rows.append(
            f"| {name} | {steps} | {history[9]:.4f} | {history[-1]:.4f} "
            f"| {net.loss(X_test, y_test):.4f} "
            f"| {net.accuracy(X_test, y_test):.1%} | {seconds * 1e3:.0f} ms |"
        )
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.optimizers_table",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS,
                        help=f"runs per optimizer; the time is the best (default {REPEATS})")
    args = parser.parse_args(argv)
    print(table(max(1, args.repeats)))


if __name__ == "__main__":
    main()
