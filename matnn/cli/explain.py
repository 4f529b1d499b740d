"""``matnn explain``: one gradient worked through the chain rule, as scalars and as matrices."""

from __future__ import annotations

import argparse
import re

import numpy as np

from .. import scalar
from ..explain import SAMPLES, explain, report
from .errors import CommandError
from .options import Commands, SEED, checked

__all__ = ["add_parser", "run"]


def add_parser(commands: Commands) -> None:
    parser = commands.add_parser(
        "explain",
        help="work one gradient through the chain rule, as scalars and as matrices",
        description=(
            "Print the document's worked backpropagation with real numbers: the "
            "forward pass, each chain-rule factor of dL/dPARAM and their product, "
            "why the document's hand-rounded numbers differ in the last figure, "
            "and where each factor lives in the matrix form (the output delta, "
            "the hidden delta, the gradient entry), computed with Network.forward "
            "and Network.backward. The default is the document's example: Alice, "
            "every weight 1, every bias 0, dL/dw1."
        ),
    )
    parser.add_argument("--param", choices=scalar.PARAM_NAMES, default="w1",
                        help="the parameter to differentiate by (default w1)")
    # Python before 3.13 takes "-1,2" for an option, not for the value of --x.
    parser._negative_number_matcher = re.compile(r"^-\.?\d")
    parser.add_argument("--sample", type=str.capitalize, choices=SAMPLES,
                        help="a person from the document's table, or Emily or Frank, "
                             "whom the trained network is asked about (default Alice)")
    parser.add_argument("--x", metavar="X1,X2",
                        type=checked(lambda t: tuple(float(v) for v in t.split(",")),
                                     lambda v: len(v) == 2 and np.isfinite(v).all(),
                                     "expected two numbers X1,X2"),
                        help="a raw input instead: weight - 135 and height - 66, "
                             "e.g. --x -7,-3 (needs --y)")
    parser.add_argument("--y", metavar="Y", type=checked(float, np.isfinite,
                                                         "expected a finite number"),
                        help="the target for --x (1 for F, 0 for M)")
    parser.add_argument("--seed", type=SEED,
                        help="draw the weights as the document does after "
                             "np.random.seed(SEED) instead of the all-ones setup")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if (args.x is None) != (args.y is None):
        raise CommandError("--x and --y go together: give both, or neither")
    if args.x is not None and args.sample is not None:
        raise CommandError("choose the sample with --sample or with --x/--y, not both")
    explanation = explain(args.param, args.sample or "Alice", x=args.x, y_true=args.y,
                          seed=args.seed)
    print(report(explanation))
    return 0
