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


def _cmd_gradcheck(args):
    from . import data
    from .gradient_check import gradcheck
    from .layers import Dense
    from .network import Network

    if args.sizes is None and args.activation is None and args.batch is None:
        x, y_true = data.sample("Alice")
        net = Network([Dense(np.ones((2, 2)), np.zeros(2), "sigmoid", dtype=args.dtype),
                       Dense(np.ones((1, 2)), np.zeros(1), "sigmoid", dtype=args.dtype)])
        X, y = x.reshape(1, -1), [y_true]
        print(f"The document's network at its worked example: Alice (x = {x.tolist()}, "
              f"y_true = {y_true}), every weight 1, every bias 0, {args.dtype}")
    else:
        sizes = args.sizes or (2, 2, 1)
        activation = args.activation or "sigmoid"
        batch = args.batch or 8
        rng = np.random.default_rng(args.seed)
        net = Network.from_sizes(sizes, activation, seed=rng, dtype=args.dtype)
        X = rng.uniform(-3, 3, size=(batch, sizes[0]))
        y = rng.uniform(0, 1, size=(batch, sizes[-1]))
        print(f"A random {','.join(map(str, sizes))} {activation} network, {args.dtype}, "
              f"on {batch} random samples (seed {args.seed})")
    result = gradcheck(net, X, y, eps=args.eps, rtol=args.rtol, atol=args.atol,
                       method=args.method, max_coords=args.max_coords, seed=args.seed,
                       raise_exception=False)
    print(result.table())
    if result.ok:
        return 0
    print()
    print(result.report())
    return 1


def _checked(convert, accept, requirement):
    """An argparse type: ``convert`` the text, then insist that ``accept`` it."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{requirement}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"{requirement}, got {text!r}")
        return value
    return parse


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

    from .activations import ACTIVATIONS
    from .gradient_check import MAX_COORDS

    check = commands.add_parser(
        "gradcheck",
        help="check a network's backward pass against finite differences",
        description=(
            "Compare the network's analytic gradient with float64 finite differences "
            "of its loss and print one row per parameter array; exit status 0 when "
            "they agree, 1 when some entry does not (the worst ones are listed). "
            "With none of --sizes, --activation, --batch it checks the document's "
            "network at its worked example: Alice, every weight 1, every bias 0. "
            "Tolerances default to the measured ones for the method and dtype."
        ),
    )
    check.add_argument("--sizes", metavar="N,N,...",
                       type=_checked(lambda t: tuple(int(s) for s in t.split(",")),
                                     lambda s: len(s) >= 2 and min(s) >= 1,
                                     "expected at least two widths >= 1 such as 2,2,1"),
                       help="layer widths of a random network (default 2,2,1)")
    check.add_argument("--activation", choices=sorted(ACTIVATIONS),
                       help="activation of every layer of a random network (default sigmoid)")
    check.add_argument("--batch", metavar="N",
                       type=_checked(int, lambda n: n >= 1, "expected an integer >= 1"),
                       help="number of random samples, features in [-3, 3] (default 8)")
    check.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                       help="the network's dtype (default float64)")
    check.add_argument("--seed", type=int, default=0,
                       help="seed for the random network, samples and sampled coordinates "
                            "(default 0)")
    check.add_argument("--method", choices=["central", "scipy"], default="central",
                       help="central differences, or scipy.differentiate.jacobian "
                            "(default central)")
    positive = _checked(float, lambda v: np.isfinite(v) and v > 0,
                        "expected a finite number > 0")
    at_least_zero = _checked(float, lambda v: np.isfinite(v) and v >= 0,
                             "expected a finite number >= 0")
    check.add_argument("--eps", type=positive, help="finite-difference step")
    check.add_argument("--rtol", type=at_least_zero, help="relative tolerance")
    check.add_argument("--atol", type=at_least_zero, help="absolute tolerance")
    check.add_argument("--max-coords", metavar="N", default=MAX_COORDS,
                       type=_checked(int, lambda n: n >= 1, "expected an integer >= 1"),
                       help="check every coordinate of networks up to this many "
                            f"parameters, a seeded sample beyond (default {MAX_COORDS})")
    check.set_defaults(run=_cmd_gradcheck)

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
