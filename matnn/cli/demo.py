"""``matnn demo``: train the document's network both ways and compare."""

from __future__ import annotations

import argparse

import numpy as np

from .. import data, scalar
from . import plots
from .options import Commands, SEED

__all__ = ["add_parser", "run"]


def add_parser(commands: Commands) -> None:
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
    demo.add_argument("--seed", type=SEED, default=0,
                      help="seed for np.random.seed before drawing the weights (default 0)")
    demo.add_argument("--plot", metavar="PNG",
                      help="also draw both loss curves to this file (needs matplotlib)")
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.plot:
        plots.check_plot_path("--plot", args.plot)  # fail now rather than after training
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
        plots.plot_losses(args.plot, scalar_log, history, seed=args.seed, learning_rate=0.1)
    return 0
