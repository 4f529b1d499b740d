"""The ``matnn`` command line (also ``python -m matnn``).

Each command is a ``_cmd_*`` function that takes the parsed arguments and
returns an exit status. A :class:`CommandError` raised anywhere below becomes
one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

__all__ = ["main", "CommandError"]


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def _cmd_demo(args):
    from . import data, scalar

    # Both forms start from the same nine numbers, drawn as the document does.
    np.random.seed(args.seed)
    doc_net = scalar.OurNeuralNetwork()
    net = scalar.to_network(doc_net)

    print(f"== The document's scalar network (np.random.seed({args.seed}), "
          "per-sample SGD, learn_rate 0.1, 1000 epochs)")
    scalar_log = doc_net.train(data.X, data.y)
    print()
    print("== The matrix-form network from the same start "
          "(fit with batch_size=1, shuffle=False)")
    history = net.fit(data.X, data.y, epochs=1000, learning_rate=0.1, batch_size=1,
                      shuffle=False, log_every=10)
    print()
    print("== Predictions (F = 1, M = 0)")
    queries = np.array([x for _, x, _ in data.QUERIES])
    matrix_preds = net.predict(queries)[:, 0]
    for (name, x, expected), pred in zip(data.QUERIES, matrix_preds):
        doc_pred = doc_net.feedforward(x)
        print(f"{name} {x.tolist()}: scalar {doc_pred:.3f}, matrix {pred:.3f}"
              f" - {'F' if pred > 0.5 else 'M'} (the document expects {expected})")
    diff = np.max(np.abs(scalar.to_network(doc_net).params - net.params))
    print()
    print(f"Largest difference between scalar and matrix parameters: {diff:.3g}")
    if args.plot:
        _plot_losses(args.plot, scalar_log, history)
    return 0


def _plot_losses(path, scalar_log, history):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.arange(len(history)), history, label="matrix form (every epoch)")
    epochs, losses = zip(*scalar_log)
    ax.plot(epochs, losses, "o", markersize=3, label="scalar shim (every 10 epochs)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE loss")
    ax.set_title("Training the document's network")
    ax.legend()
    fig.tight_layout()
    _save_figure(fig, path)
    print(f"Wrote the loss curve to {path}")


def _pyplot():
    """matplotlib.pyplot with a headless backend, or a clear CommandError."""
    try:
        import matplotlib
    except ImportError:
        raise CommandError(
            "plotting needs matplotlib, an optional extra: pip install 'matnn[plot]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, path):
    import matplotlib.pyplot as plt

    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="matnn",
        description="The 'neural network from scratch' lesson in matrix form.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    demo = commands.add_parser(
        "demo",
        help="train the document's network both ways and compare",
        description=(
            "Train the document's 2-2-1 network on its four people, once as the "
            "scalar shim and once in matrix form from the same seed; print both "
            "loss logs, Emily's and Frank's predictions, and the largest "
            "parameter difference."
        ),
    )
    demo.add_argument("--seed", type=int, default=0,
                      help="seed for np.random.seed before drawing the weights (default 0)")
    demo.add_argument("--plot", metavar="PNG",
                      help="also draw both loss curves to this file (needs matplotlib)")
    demo.set_defaults(run=_cmd_demo)

    return parser


def main(argv=None):
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except CommandError as exc:
        print(f"matnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader (e.g. `| head`) left early; that is not an error of ours.
        sys.stdout = open(os.devnull, "w")
        return 0


if __name__ == "__main__":
    sys.exit(main())
