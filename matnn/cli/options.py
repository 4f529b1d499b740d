"""Argument types, and the options several commands share.

An argument type converts the text and checks it, so a value numpy would
refuse later (with a traceback) is a usage error naming the option.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, TypeAlias, TypeVar

import numpy as np

from ..activations import ACTIVATIONS

T = TypeVar("T")

#: The subcommands' parsers, where each command adds its own.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

__all__ = ["checked", "SEED", "AT_LEAST_ONE", "POSITIVE", "AT_LEAST_ZERO", "layer_sizes",
           "activation_names", "add_header_options", "add_threads_option",
           "add_progress_option", "progress_shown"]


def checked(
    convert: Callable[[str], T], accept: Callable[[T], object], requirement: str
) -> Callable[[str], T]:
    """An argparse type: ``convert`` the text, then insist that ``accept`` it."""
    def parse(text: str) -> T:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{requirement}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"{requirement}, got {text!r}")
        return value
    return parse


# np.random.seed and default_rng both refuse anything else, with a traceback.
SEED = checked(int, lambda n: 0 <= n < 2**32, "expected a seed from 0 to 2**32 - 1")
AT_LEAST_ONE = checked(int, lambda n: n >= 1, "expected an integer >= 1")
POSITIVE = checked(float, lambda v: np.isfinite(v) and v > 0, "expected a finite number > 0")
AT_LEAST_ZERO = checked(float, lambda v: np.isfinite(v) and v >= 0,
                        "expected a finite number >= 0")


def layer_sizes(text: str) -> tuple[int, ...]:
    return checked(lambda t: tuple(int(v) for v in t.split(",")),
                   lambda s: len(s) >= 2 and min(s) >= 1,
                   "expected at least two widths >= 1 such as 2,2,1")(text)


def activation_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in ACTIVATIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown activation {unknown[0]!r}; choose from {', '.join(sorted(ACTIVATIONS))}, "
            "one for every layer or one per layer separated by commas")
    return names


def add_header_options(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--header", dest="header", action="store_const", const=True,
                       help="the CSV's first row is a header")
    which.add_argument("--no-header", dest="header", action="store_const", const=False,
                       help="the CSV's first row is data")
    parser.set_defaults(header=None)


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads", metavar="N",
        type=checked(int, lambda n: 1 <= n <= 1024, "expected a thread count from 1 to 1024"),
        help="threads for large batches and ensembles (default: MATNN_NUM_THREADS, else "
             "every core); results do not depend on it")


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction,
                        help="show fit's progress bar on stderr, with each epoch's loss, "
                             "validation loss and accuracies (default: only when stderr is "
                             "a terminal)")


def progress_shown(choice: bool | None) -> bool:
    """Whether to show the progress bar, from ``--progress`` (True) or ``--no-progress`` (False).

    With neither (None), only when stderr is a terminal: a file, a pipe or a
    CI log gets no bar.
    """
    return sys.stderr.isatty() if choice is None else choice
