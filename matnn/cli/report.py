"""``matnn report``: the lesson, or a page for a saved model, as one HTML file."""

from __future__ import annotations

import argparse
import os

from ..csvfile import read_table
from ..lesson import lesson_page, model_page
from ..seeds import run_bytes
from .errors import CommandError, check_memory, read
from .inputs import load_model, standardized
from .options import Commands, AT_LEAST_ONE, SEED
from .output import shown, write_text

__all__ = ["add_parser", "run"]

#: The epochs of each run in the lesson page's many-seeds section (train_seeds' default).
LESSON_EPOCHS = 1000


def add_parser(commands: Commands) -> None:
    page = commands.add_parser(
        "report",
        help="write the lesson, or a page for a saved model, as one HTML file",
        description=(
            "Write one self-contained HTML file (inline SVG, no script, nothing "
            "fetched from the network). Without --model: the lesson page, with the "
            "worked example drawn on the network, the training run's loss curve "
            "(scalar shim and matrix form), the trained network and its decision "
            "boundary over weight and height, and the many-seeds study. With "
            "--model and --data: the model's diagram, its output over 1 or 2 "
            "inputs, and its loss on the data (a CSV of features, then targets)."
        ),
    )
    page.add_argument("--out", metavar="HTML", required=True, help="the file to write")
    page.add_argument("--model", help="a model file written by 'matnn train --save'")
    page.add_argument("--data", metavar="CSV",
                      help="the model's data: its feature columns, then its target columns")
    page.add_argument("--runs", type=AT_LEAST_ONE, default=200,
                      help="seeds in the lesson page's many-seeds section (default 200)")
    page.add_argument("--seed", type=SEED, default=0,
                      help="the lesson page's training run starts from np.random.seed(SEED) "
                           "(default 0)")
    page.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if (args.model is None) != (args.data is None):
        raise CommandError("--model and --data go together: give both for a model's page, "
                           "or neither for the lesson page")
    if args.model is None:
        check_memory(f"the lesson page's {args.runs} seed runs of {LESSON_EPOCHS} epochs",
                     args.runs * run_bytes(LESSON_EPOCHS))
        page = lesson_page(runs=args.runs, seed=args.seed)
        what = "the lesson page"
    else:
        net, scaler = load_model(args.model)
        table, _ = read(read_table, args.data)
        n_columns = net.n_in + net.n_out
        if table.shape[1] != n_columns:
            raise CommandError(
                f"{args.data} has {table.shape[1]} columns, but the model in {args.model} "
                f"needs {net.n_in} feature + {net.n_out} target = {n_columns} columns"
            )
        # The file's name goes into the page, which is UTF-8: escaped like any shown name.
        X, source = table[:, :net.n_in], shown(os.path.basename(args.data))
        if scaler is not None:
            # The page shows what the network sees: the features as standardized in training.
            X = standardized(scaler, X, args.data)
            source += ", its features standardized as in training"
        try:
            page = model_page(net, X, table[:, net.n_in:], source=source)
        except ValueError as exc:
            # Data the page cannot draw: a range too wide, outputs that overflow.
            raise CommandError(f"{args.data}: {exc}") from None
        what = f"the page for {shown(args.model)}"
    write_text(args.out, page)
    print(f"Wrote {what} to {shown(args.out)}")
    return 0
