"""``matnn train``: train a network on a CSV file and optionally save it."""

from __future__ import annotations

import argparse
from typing import Any, Sequence

import numpy as np

from .._typing import NDArray
from ..activations import ACTIVATIONS
from ..memory import fit_bytes
from ..network import Network
from ..lbfgs import LBFGS
from ..saving import save
from ..scaling import Standardizer
from . import fitting
from .errors import CommandError, cannot_write, check_memory
from .inputs import (add_target_option, check_probabilities, class_labels, header_note,
                     read_csv, target_index)
from .options import (AT_LEAST_ONE, Commands, SEED, activation_names, add_header_options,
                      add_progress_option, add_threads_option, checked, layer_sizes)
from .output import shown

__all__ = ["add_parser", "run"]

#: Default learning rate per optimizer: the lesson's 0.1 for SGD, the usual
#: 1e-3 for Adam and AdamW.
RATES = {"sgd": 0.1, "adam": 1e-3, "adamw": 1e-3}


def add_parser(commands: Commands) -> None:
    train = commands.add_parser(
        "train",
        help="train a network on a CSV file and optionally save it",
        description=(
            "Train a network from a CSV file of numbers: the feature columns first, "
            "then the target column(s), unless --target names the target column. A "
            "header row is optional: unless --header or --no-header says, a first row "
            "with no numbers is one, and a first row mixing numbers and text is an "
            "error. With --loss cross_entropy the last (or --target) column holds "
            "integer class labels 0, 1, 2, ... and the network has one output per "
            "class: --sizes 4,8,3 is 4 features and 3 classes, from 5 columns. The "
            "default is the lesson's: plain per-sample SGD on the MSE. "
            "A progress bar on stderr shows each epoch's loss (on a terminal, or with "
            "--progress). The final loss (and a classifier's accuracy) is printed at "
            "the end."
        ),
    )
    train.add_argument("csv", help="the training data")
    train.add_argument("--sizes", metavar="N,N,...", type=layer_sizes,
                       help="layer widths: features, hidden..., outputs; the first and "
                            "last must add up to the CSV's columns, or with --loss "
                            "cross_entropy the last is the number of classes (default: "
                            "every column but the last, or but --target, is a feature, "
                            "2 hidden, 1 output or one per class)")
    train.add_argument("--activation", metavar="NAME[,NAME...]", type=activation_names,
                       help="one activation for every layer, or one per layer (e.g. "
                            f"tanh,identity); from {', '.join(sorted(ACTIVATIONS))} (default "
                            "sigmoid, with a softmax output for --loss cross_entropy)")
    add_target_option(train, "default: the columns after the features, as --sizes says")
    train.add_argument("--loss", choices=sorted(fitting.LOSS_NAMES), default="mse",
                       help="mse (the lesson's), cross_entropy (class labels in the last "
                            "or --target column; softmax output) or binary_cross_entropy "
                            "(targets from 0 to 1; sigmoid output) (default mse)")
    train.add_argument("--standardize", action="store_true",
                       help="scale every feature to mean 0 and standard deviation 1 over "
                            "the training rows (a constant feature is only centred: its "
                            "scale is 1); --save keeps the scaling in the model file, and "
                            "predict and evaluate apply it")
    train.add_argument("--epochs", type=AT_LEAST_ONE, default=1000,
                       help="passes over the data; for lbfgs the most iterations "
                            "(default 1000)")
    fitting.add_optimizer_options(train, RATES, momentum=0.0,
                                  batch="default 1, the document's per-sample SGD")
    train.add_argument("--validation-split", metavar="FRACTION",
                       type=checked(float, lambda v: 0 < v < 1,
                                    "expected a fraction between 0 and 1 such as 0.2"),
                       help="hold out this fraction of the rows (a seeded random choice) "
                            "and report the loss on them; the network keeps the "
                            "parameters of its epoch with the lowest validation loss")
    train.add_argument("--patience", metavar="N", type=AT_LEAST_ONE,
                       help="stop after N epochs without a lower validation loss "
                            "(needs --validation-split)")
    train.add_argument("--no-shuffle", dest="shuffle", action="store_false",
                       help="keep the rows in file order instead of shuffling every epoch "
                            "(the document's order)")
    train.add_argument("--seed", type=SEED, default=0,
                       help="seed for the initial weights, the validation split and the "
                            "shuffling (default 0)")
    add_header_options(train)
    train.add_argument("--save", metavar="MODEL",
                       help="save the trained network to this file (an .npz archive, "
                            "written atomically)")
    add_progress_option(train)
    add_threads_option(train)
    train.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    loss = args.loss
    if args.patience is not None and args.validation_split is None:
        raise CommandError("--patience watches the validation loss: it needs --validation-split")
    optimizer, learning_rate, described = fitting.optimizer(args, RATES, momentum=0.0)
    lbfgs = isinstance(optimizer, LBFGS)
    if lbfgs and not args.shuffle:
        raise CommandError(fitting.NOT_WITH_LBFGS.format(option="--no-shuffle"))
    batch_size = 1 if args.batch_size is None else args.batch_size
    table, header = read_csv(args.csv, args.header)
    n_rows, n_columns = table.shape
    if n_columns < 2:
        raise CommandError(f"{args.csv} has 1 column; it needs features, then target(s)")
    names = header or [f"column {i}" for i in range(1, n_columns + 1)]
    sizes, features, targets, Y = _columns(args, table, header, names)
    activations = _activations(args.activation, sizes, loss)
    check_memory(f"training a {_joined(sizes)} network on {n_rows} rows "
                 f"for {args.epochs} epochs", fit_bytes(sizes, n_rows, args.epochs))
    X = table[:, features]
    rng = np.random.default_rng(args.seed)
    net = _network(sizes, activations, rng, loss)
    validation = None
    if args.validation_split is not None:
        X, Y, validation = _split_rows(X, Y, args.validation_split, rng, n_rows)
    scaler = None
    if args.standardize:
        # From the training rows alone: the validation rows stand for unseen data.
        scaler = Standardizer.fit(X)
        X = scaler.transform(X)
        if validation is not None:
            validation = scaler.transform(validation[0]), validation[1]

    print(f"Training a {_joined(sizes)} {_shown(activations)} network on {n_rows} rows "
          f"of {shown(args.csv)} ({header_note(header, args.header)})")
    # The header's names are the user's text: printed escaped.
    if loss == "cross_entropy":
        target = (f"class label: {shown(names[targets[0]])} ({sizes[-1]} classes, "
                  f"0 to {sizes[-1] - 1})")
    else:
        target = (f"target{'s' if len(targets) > 1 else ''}: "
                  f"{', '.join(shown(names[j]) for j in targets)}")
    print(f"features: {', '.join(shown(names[j]) for j in features)}; {target}; "
          f"loss: {fitting.LOSS_NAMES[loss]}")
    if validation is not None:
        n_val = validation[0].shape[0]
        print(f"validation: {n_val} of the {n_rows} rows ({args.validation_split:.0%}, drawn "
              f"with the seed); training on the other {n_rows - n_val}")
    if scaler is not None:
        print(f"standardized: every feature to mean 0 and standard deviation 1 over the "
              f"{X.shape[0]} training rows" + (", as the saved model will" if args.save else ""))
    if lbfgs:
        print(f"{described}, seed {args.seed}")
    else:
        order = "" if args.shuffle else ", rows in file order"
        print(f"{args.epochs} epochs, {described}, batch size {batch_size}{order}, "
              f"seed {args.seed}")
    history = fitting.fit(net, X, Y, validation, optimizer=optimizer,
                          learning_rate=learning_rate, epochs=args.epochs,
                          batch_size=batch_size, shuffle=args.shuffle, rng=rng,
                          patience=args.patience, progress=args.progress)
    fitting.print_outcome(net, history, (X, Y), validation, optimizer, args.patience)
    if args.save:
        try:
            save(net, args.save, scaler=scaler)
        except OSError as exc:
            raise cannot_write(args.save, exc) from None
        print(f"Saved the model to {shown(args.save)}")
    return 0


def _columns(
    args: argparse.Namespace,
    table: NDArray[Any],
    header: Sequence[str] | None,
    names: Sequence[str],
) -> tuple[tuple[int, ...], list[int], list[int], NDArray[Any]]:
    """``(sizes, feature columns, target columns, Y)``: what each column is, and the widths."""
    path, n_columns = args.csv, table.shape[1]
    chosen = None if args.target is None else target_index(args.target, header, n_columns, path)
    if args.loss == "cross_entropy":
        # One column of class labels; the network has one output per class.
        label = n_columns - 1 if chosen is None else chosen
        labels = class_labels(table[:, label], names[label], path,
                              "with --loss cross_entropy "
                              + ("the last column" if chosen is None else "the --target column"))
        sizes = args.sizes or (n_columns - 1, 2, max(2, int(labels.max()) + 1))
        if sizes[-1] < 2:
            raise CommandError("--loss cross_entropy needs at least 2 classes, the last of "
                               f"--sizes, got {sizes[-1]}; for two classes with one output "
                               "use --loss binary_cross_entropy")
        if sizes[0] != n_columns - 1:
            raise CommandError(
                f"{path} has {n_columns} columns, but sizes {_joined(sizes)} with --loss "
                f"cross_entropy need {sizes[0]} feature + 1 label = {sizes[0] + 1} columns"
            )
        if labels.max() >= sizes[-1]:
            i = int(np.argmax(labels))
            raise CommandError(
                f"{path}: {names[label]} holds class {labels[i]} in data row {i + 1}, but sizes "
                f"{_joined(sizes)} give {sizes[-1]} classes, 0 to {sizes[-1] - 1}"
            )
        return sizes, [j for j in range(n_columns) if j != label], [label], labels
    sizes = args.sizes or (n_columns - 1, 2, 1)
    if chosen is None:
        if sizes[0] + sizes[-1] != n_columns:
            raise CommandError(
                f"{path} has {n_columns} columns, but sizes {_joined(sizes)} need "
                f"{sizes[0]} feature + {sizes[-1]} target = {sizes[0] + sizes[-1]} columns"
            )
        features, targets = list(range(sizes[0])), list(range(sizes[0], n_columns))
    else:
        if (sizes[0], sizes[-1]) != (n_columns - 1, 1):
            raise CommandError(
                f"{path} has {n_columns} columns, {n_columns - 1} features and the --target "
                f"column, but sizes {_joined(sizes)} need {sizes[0]} feature + {sizes[-1]} "
                "target columns"
            )
        features, targets = [j for j in range(n_columns) if j != chosen], [chosen]
    Y = table[:, targets]
    if args.loss == "binary_cross_entropy":
        check_probabilities(Y, [names[j] for j in targets], path, "--loss binary_cross_entropy")
    return sizes, features, targets, Y


def _activations(given: list[str] | None, sizes: Sequence[int], loss: str) -> list[str]:
    """One activation name per layer, from ``--activation`` and the loss."""
    n_layers = len(sizes) - 1
    if given is None:
        # A classifier's output must be probabilities; the lesson's sigmoid elsewhere.
        return ["sigmoid"] * (n_layers - 1) + ["softmax" if loss == "cross_entropy" else "sigmoid"]
    if len(given) == 1:
        return given * n_layers
    if len(given) != n_layers:
        raise CommandError(
            f"--activation lists {len(given)} activations, but sizes {_joined(sizes)} have "
            f"{n_layers} layers: give one for every layer, or one per layer"
        )
    return list(given)


def _network(
    sizes: Sequence[int], activations: Sequence[str], rng: np.random.Generator, loss: str
) -> Network:
    try:
        return Network.from_sizes(sizes, activations, seed=rng, loss=loss)
    except ValueError as exc:
        # The loss refuses the network: cross_entropy with one output, or
        # a cross-entropy whose output layer gives no probabilities.
        raise CommandError(str(exc)) from None


def _split_rows(
    X: NDArray[Any], Y: NDArray[Any], fraction: float, rng: np.random.Generator, n_rows: int
) -> tuple[NDArray[Any], NDArray[Any], tuple[NDArray[Any], NDArray[Any]]]:
    """A seeded random ``fraction`` of the rows held out: ``(X_train, Y_train, (X_val, Y_val))``.

    Both parts keep the file's order.
    """
    n_val = int(round(fraction * n_rows))
    if not 1 <= n_val <= n_rows - 1:
        raise CommandError(
            f"--validation-split {fraction:g} of {n_rows} rows leaves "
            f"{'no validation row' if n_val < 1 else 'no training row'}"
        )
    held = np.zeros(n_rows, bool)
    held[rng.permutation(n_rows)[:n_val]] = True
    return X[~held], Y[~held], (X[held], Y[held])


def _joined(sizes: Sequence[int]) -> str:
    return ",".join(map(str, sizes))


def _shown(activations: Sequence[str]) -> str:
    """``sigmoid`` when every layer has it, else ``tanh/tanh/softmax``."""
    return activations[0] if len(set(activations)) == 1 else "/".join(activations)
