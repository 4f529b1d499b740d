"""``matnn evaluate``: a saved network's loss (and accuracy) on a labelled CSV file."""

from __future__ import annotations

import argparse

from .errors import CommandError
from .fitting import LOSS_NAMES
from .inputs import (add_target_option, check_probabilities, class_labels, header_note,
                     load_model, read_csv, standardized, target_index)
from .options import Commands, add_header_options
from .output import shown

__all__ = ["add_parser", "run"]


def add_parser(commands: Commands) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="a saved network's loss (and accuracy) on labelled data",
        description=(
            "Load a network saved by 'matnn train --save' and print its loss on a "
            "CSV file of features and targets (header optional, detected as for "
            "'matnn train'), and its accuracy when its loss classifies. The "
            "features come first, then the targets: one column per output, or for "
            "a cross-entropy model one column of class labels 0, 1, 2, ... With "
            "--target the target is that one column and every other is a feature. "
            "A model trained with --standardize standardizes the features as it "
            "did in training."
        ),
    )
    evaluate.add_argument("model", help="a model file written by 'matnn train --save'")
    evaluate.add_argument("csv", help="the data: features and targets, one sample per row")
    add_target_option(evaluate, "default: the columns after the model's features")
    add_header_options(evaluate)
    evaluate.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    net, scaler = load_model(args.model)
    table, header = read_csv(args.csv, args.header)
    n_rows, n_columns = table.shape
    names = header or [f"column {i}" for i in range(1, n_columns + 1)]
    loss_fn = net.loss_fn
    labels = loss_fn.name == "cross_entropy"
    if args.target is None:
        features, targets = list(range(net.n_in)), list(range(net.n_in, n_columns))
        expected = [net.n_out] + ([1] if labels and net.n_out != 1 else [])
        if len(targets) not in expected:
            what = " or ".join(f"{n} {'label' if labels and n == 1 else 'target'}"
                               for n in expected)
            raise CommandError(
                f"{args.csv} has {n_columns} columns, but the model in {args.model} needs "
                f"{net.n_in} feature + {what} columns"
                + (" (name a target with --target)" if len(targets) > max(expected) else "")
            )
    else:
        chosen = target_index(args.target, header, n_columns, args.csv)
        if net.n_out != 1 and not labels:
            raise CommandError(
                f"--target names one column, but the model in {args.model} has {net.n_out} "
                "outputs, one target column each; leave --target out and put the targets "
                "after the features"
            )
        if n_columns != net.n_in + 1:
            raise CommandError(
                f"{args.csv} has {n_columns} columns, but the model in {args.model} takes "
                f"{net.n_in} features + the --target column = {net.n_in + 1} columns"
            )
        features = [j for j in range(n_columns) if j != chosen]
        targets = [chosen]
    X, Y = table[:, features], table[:, targets]
    if labels and len(targets) == 1:
        Y = class_labels(Y[:, 0], names[targets[0]], args.csv,
                         f"the model in {args.model} classifies with cross-entropy, so "
                         + ("the --target column" if args.target is not None
                            else "the column after the features"))
        if Y.max() >= net.n_out:
            i = int(Y.argmax())
            raise CommandError(
                f"{args.csv}: {names[targets[0]]} holds class {Y[i]} in data row {i + 1}, but "
                f"the model in {args.model} has {net.n_out} classes, 0 to {net.n_out - 1}"
            )
    elif loss_fn.name == "binary_cross_entropy":
        check_probabilities(Y, [names[j] for j in targets], args.csv,
                            f"the model in {args.model}'s binary cross-entropy")
    if scaler is not None:
        X = standardized(scaler, X, args.csv)
    try:
        loss = net.loss(X, Y)
    except ValueError as exc:
        # What the loss itself refuses, e.g. probability rows that do not sum to 1.
        raise CommandError(f"{args.csv}: {exc}") from None

    print(f"Evaluating the model in {shown(args.model)} on {n_rows} rows of {shown(args.csv)} "
          f"({header_note(header, args.header)})")
    if labels and len(targets) == 1:
        kind = "class label"
    else:
        kind = "targets" if len(targets) > 1 else "target"
    loss_name = LOSS_NAMES[loss_fn.name]
    # The header's names are the user's text: printed escaped.
    print(f"features: {', '.join(shown(names[j]) for j in features)}; {kind}: "
          f"{', '.join(shown(names[j]) for j in targets)}; loss: {loss_name}")
    if scaler is not None:
        print("standardized: every feature as in training, with the mean and standard "
              f"deviation saved in {shown(args.model)}")
    print(f"Loss ({loss_name} over {n_rows} rows): {loss:.6g}")
    if loss_fn.classifies:
        print(f"Accuracy: {net.accuracy(X, Y):.3f}")
    return 0
