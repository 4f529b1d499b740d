"""``matnn predict``: a saved network's predictions for every row of a CSV file."""

from __future__ import annotations

import argparse
import io
import sys
from typing import Any

import numpy as np

from .._typing import NDArray
from ..csvfile import write_table
from .errors import CommandError
from .inputs import (add_target_option, header_note, load_model, read_csv, standardized,
                     target_index)
from .options import Commands, add_header_options
from .output import shown, write_text

__all__ = ["add_parser", "run"]


def add_parser(commands: Commands) -> None:
    predict = commands.add_parser(
        "predict",
        help="predict with a saved network",
        description=(
            "Load a network saved by 'matnn train --save' and write its "
            "predictions for every row of a CSV file of features (header "
            "optional, detected as for 'matnn train') as CSV, one row per input row. "
            "A file that also holds the targets works with --target, which names "
            "the column to leave out. A model trained with --standardize "
            "standardizes the features as it did in training."
        ),
    )
    predict.add_argument("model", help="a model file written by 'matnn train --save'")
    predict.add_argument("csv", help="the features, one sample per row")
    add_target_option(predict, "default: none, every column is a feature")
    predict.add_argument("--out", metavar="CSV",
                         help="write the predictions to this file instead of stdout")
    which = predict.add_mutually_exclusive_group()
    which.add_argument("--classes", action="store_true",
                       help="print each row's class instead: the most probable output, "
                            "or output >= 0.5 for a model with one output")
    which.add_argument("--probabilities", action="store_true",
                       help="print the class probabilities, columns p0, p1, ... (p1 alone "
                            "for one sigmoid output); the model must end in softmax or "
                            "sigmoid. Without either option the outputs are printed as they "
                            "are, which for such a model are these probabilities")
    add_header_options(predict)
    predict.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    net, scaler = load_model(args.model)
    table, names = read_csv(args.csv, args.header)
    note = f"{shown(args.csv)}: {header_note(names, args.header)}"
    n_columns = table.shape[1]
    if args.target is None:
        if n_columns != net.n_in:
            raise CommandError(
                f"{args.csv} has {n_columns} columns, but the model in {args.model} "
                f"takes {net.n_in} features (and no target columns; name one with --target)"
            )
    else:
        target = target_index(args.target, names, n_columns, args.csv)
        if n_columns == net.n_in:
            raise CommandError(
                f"--target {args.target}: {args.csv} has {n_columns} columns, the "
                f"{net.n_in} features the model in {args.model} takes and no target "
                "column; leave --target out for a file of features only"
            )
        if n_columns != net.n_in + 1:
            raise CommandError(
                f"{args.csv} has {n_columns} columns, but the model in {args.model} "
                f"takes {net.n_in} features + the --target column = {net.n_in + 1} columns"
            )
        table = np.delete(table, target, axis=1)
    if scaler is not None:
        table = standardized(scaler, table, args.csv)
        note += "; features standardized as in training"
    predictions: NDArray[Any]
    if args.classes:
        predictions = net.classify(table)[:, None]
        header = ["class"]
    else:
        if args.probabilities and net.activations[-1] not in ("softmax", "sigmoid"):
            raise CommandError(
                f"the model in {args.model} ends in {net.activations[-1]}, so its outputs are "
                "not probabilities; --probabilities needs a softmax or sigmoid output "
                "(--classes works for any model)"
            )
        predictions = net.predict(table)
        if args.probabilities:
            # Named by the class each is the probability of, as --classes numbers them.
            header = ["p1"] if net.n_out == 1 else [f"p{j}" for j in range(net.n_out)]
        else:
            header = (["y_pred"] if net.n_out == 1
                      else [f"y_pred{i}" for i in range(1, net.n_out + 1)])
    if args.out is None:
        # stdout is the CSV itself, so the note goes to stderr.
        print(f"matnn predict: {note}", file=sys.stderr)
        write_table(sys.stdout, predictions, header)
        return 0
    text = io.StringIO(newline="")
    write_table(text, predictions, header)
    write_text(args.out, text.getvalue())
    print(f"Wrote {len(predictions)} predictions to {shown(args.out)} ({note})")
    return 0
