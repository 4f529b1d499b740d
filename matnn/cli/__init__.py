"""The ``matnn`` command line (also ``python -m matnn``).

Each command is a module of this package with ``add_parser(commands)``, which
defines its options (all of them, in one place), and ``run(args)``, which
takes the parsed arguments and returns an exit status. A
:class:`~matnn.cli.errors.CommandError` raised anywhere below becomes one
line on stderr and exit status 2, never a traceback; so does running out of
memory, and sizes, epochs, runs or batches whose memory can be estimated
beforehand are refused that way before anything is allocated. Ctrl-C prints
``matnn COMMAND: interrupted`` and exits with status 130. A warning raised
while a command runs is shown as one line, ``matnn COMMAND: warning: ...``.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import warnings
from typing import Sequence, TextIO

from tqdm import tqdm

from .. import __version__
from ..threads import get_num_threads, set_num_threads
from . import demo, digits, evaluate, explain, gradcheck, predict, report, seeds, train
from .errors import CommandError
from .output import shown

__all__ = ["main", "build_parser", "CommandError"]

#: The commands, in the order ``matnn --help`` lists them.
COMMANDS = (demo, explain, train, predict, evaluate, digits, seeds, report, gradcheck)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matnn",
        description="The 'neural network from scratch' lesson in matrix form.",
    )
    parser.add_argument("--version", action="version", version=f"matnn {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # The command line owns the process, so it may own how warnings show.
        with warnings.catch_warnings():
            warnings.showwarning = functools.partial(_show_warning, args.command)
            if getattr(args, "threads", None) is None:
                return args.run(args)
            before = get_num_threads()
            set_num_threads(args.threads)
            try:
                return args.run(args)
            finally:
                set_num_threads(before)
    except CommandError as exc:
        # Its message may quote a file name or a CSV header: printed escaped.
        print(f"matnn {args.command}: error: {shown(exc)}", file=sys.stderr)
        return 2
    except MemoryError as exc:
        print(f"matnn {args.command}: error: not enough memory"
              f"{f' ({exc})' if str(exc) else ''}; use smaller values", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"matnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) left early; that is not an error of ours.
        sys.stdout = open(os.devnull, "w")
        return 0


def _show_warning(
    command: str,
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    text = shown(" ".join(part.strip() for part in str(message).splitlines() if part.strip()))
    # tqdm clears a progress bar on stderr first, and draws it again below.
    tqdm.write(f"matnn {command}: warning: {text}", file=sys.stderr)
