"""Training, as ``train`` and ``digits`` share it: the optimizer options, the run, the outcome."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from .._typing import ArrayLike, FloatArray
from ..lbfgs import LBFGS
from ..optimizers import SGD, Adam, AdamW
from ..training import TrainingDiverged
from .errors import CommandError
from .options import AT_LEAST_ZERO, POSITIVE, checked, progress_shown

if TYPE_CHECKING:
    import numpy as np

    from ..history import History
    from ..network import Network
    from ..optimizer_base import Optimizer

__all__ = ["LOSS_NAMES", "NOT_WITH_LBFGS", "add_optimizer_options", "optimizer", "fit",
           "print_outcome"]

#: Each loss as the output names it.
LOSS_NAMES = {"mse": "MSE", "cross_entropy": "cross-entropy",
              "binary_cross_entropy": "binary cross-entropy"}

NOT_WITH_LBFGS = ("--optimizer lbfgs trains on all the rows at once until it converges: "
                  "it takes no {option}")


def add_optimizer_options(
    parser: argparse.ArgumentParser,
    rates: dict[str, float],
    *,
    momentum: float,
    batch: str,
    default: str = "sgd",
) -> None:
    """--optimizer, --lr, --momentum, --nesterov, --weight-decay and --batch-size."""
    parser.add_argument("--optimizer", choices=["sgd", "adam", "adamw", "lbfgs"],
                        default=default,
                        help="sgd (plain, the lesson's rule, unless --momentum or "
                             "--weight-decay), adam, adamw, or lbfgs (scipy's L-BFGS-B on "
                             f"all rows at once) (default {default})")
    parser.add_argument("--lr", type=POSITIVE,
                        help="learning rate (default "
                             + ", ".join(f"{rate:g} for {name}" for name, rate in rates.items())
                             + ")")
    parser.add_argument("--momentum", type=AT_LEAST_ZERO,
                        help=f"sgd's momentum (default {momentum:g})")
    parser.add_argument("--nesterov", action="store_true",
                        help="sgd with Nesterov momentum (needs momentum > 0)")
    parser.add_argument("--weight-decay", type=AT_LEAST_ZERO,
                        help="L2 weight decay on every parameter, biases included (default 0; "
                             "0.01 for adamw, whose decay is decoupled)")
    parser.add_argument("--batch-size", type=checked(int, lambda n: n >= 1,
                                                     "expected an integer >= 1"),
                        help=f"samples per update ({batch})")


def optimizer(
    args: argparse.Namespace, rates: dict[str, float], *, momentum: float
) -> tuple[Optimizer | None, float | None, str]:
    """The optimizer the options ask for, as ``(optimizer, learning_rate, description)``.

    Plain SGD (no momentum, no weight decay) is ``(None, rate, ...)``: the
    lesson's ``fit(learning_rate=...)`` path. ``momentum`` is the command's
    default for SGD.
    """
    name = args.optimizer
    if name == "lbfgs":
        for option, value in (("--lr", args.lr), ("--momentum", args.momentum),
                              ("--nesterov", args.nesterov or None),
                              ("--weight-decay", args.weight_decay),
                              ("--batch-size", args.batch_size), ("--patience", args.patience)):
            if value is not None:
                raise CommandError(NOT_WITH_LBFGS.format(option=option))
        return (LBFGS(max_iter=args.epochs), None,
                f"L-BFGS (scipy's L-BFGS-B on every row at once), at most {args.epochs} "
                "iterations")
    rate = rates[name] if args.lr is None else args.lr
    if name != "sgd":
        for option, value in (("--momentum", args.momentum), ("--nesterov", args.nesterov or None)):
            if value is not None:
                raise CommandError(f"{option} is for --optimizer sgd; {name} keeps its own "
                                   "moving averages of the gradient")
        kind = Adam if name == "adam" else AdamW
        chosen = (kind(rate) if args.weight_decay is None
                  else kind(rate, weight_decay=args.weight_decay))
        return (chosen, None, f"{kind.__name__}, learning rate {rate:g}, weight decay "
                              f"{chosen.weight_decay:g}")
    momentum = momentum if args.momentum is None else args.momentum
    decay = args.weight_decay or 0.0
    if args.nesterov and momentum == 0:
        raise CommandError("--nesterov needs --momentum > 0")
    if momentum == 0 and decay == 0:
        return None, rate, f"plain SGD (the lesson's rule), learning rate {rate:g}"
    parts = [f"SGD, learning rate {rate:g}", f"momentum {momentum:g}"]
    if args.nesterov:
        parts.append("Nesterov")
    if decay:
        parts.append(f"weight decay {decay:g}")
    return SGD(rate, momentum, args.nesterov, decay), None, ", ".join(parts)


def fit(
    net: Network,
    X: FloatArray,
    y: ArrayLike,
    validation: tuple[FloatArray, ArrayLike] | None,
    *,
    optimizer: Optimizer | None,
    learning_rate: float | None,
    epochs: int,
    batch_size: int | None,
    shuffle: bool,
    rng: np.random.Generator,
    patience: int | None,
    progress: bool | None,
) -> History:
    """``net.fit``, with its progress bar; a validation set also keeps its best epoch's parameters.

    L-BFGS cannot watch a validation set while it runs, so it trains on
    ``X`` alone and :func:`print_outcome` evaluates ``validation`` afterwards.
    ``progress`` is ``--progress``: True, False or None (see
    :func:`~matnn.cli.options.progress_shown`). The bar is ``fit``'s own,
    fed by its :class:`~matnn.EpochRecord`, so nothing is evaluated for it.
    """
    shown = progress_shown(progress)
    try:
        if isinstance(optimizer, LBFGS):
            return net.fit(X, y, optimizer=optimizer, progress=shown)
        return net.fit(X, y, epochs=epochs, learning_rate=learning_rate, optimizer=optimizer,
                       batch_size=batch_size, shuffle=shuffle, seed=rng,
                       validation_data=validation, patience=patience,
                       restore_best=validation is not None, progress=shown)
    except TrainingDiverged as exc:
        raise CommandError(str(exc)) from None


def print_outcome(
    net: Network,
    history: History,
    train: tuple[FloatArray, ArrayLike],
    validation: tuple[FloatArray, ArrayLike] | None,
    optimizer: Optimizer | None,
    patience: int | None,
) -> None:
    """How training ended, and the final loss (and accuracy) of the network it left.

    The numbers are the history's, of the epoch whose parameters the network
    kept. L-BFGS records neither validation nor accuracy (nor any loss when
    it stops where it started), so for L-BFGS they are computed here.
    """
    lbfgs = isinstance(optimizer, LBFGS)
    if lbfgs:
        print(f"L-BFGS: {len(history)} iterations, "
              f"{'converged' if history.converged else 'did not converge'} "
              f"(scipy: {history.message})")
    if patience is not None:
        if history.stopped_early:
            print(f"Early stopping: yes, after epoch {len(history) - 1}, {patience} epochs "
                  "without a lower validation loss")
        else:
            print(f"Early stopping: no, all {len(history)} epochs ran")
    kept = len(history) - 1
    if history.best_epoch is not None:
        # A network's best_epoch is an int, and its run had validation data.
        kept = history.best_epoch  # type: ignore[assignment]
        print(f"Kept the parameters of epoch {kept}, the lowest validation loss "
              f"({history.val_loss[kept]:.6g})")  # type: ignore[index]
    X, y = train
    loss_fn = net.loss_fn
    if lbfgs:
        loss = net.loss(X, y)
        val_loss = None if validation is None else net.loss(*validation)
        acc = net.accuracy(X, y) if loss_fn.classifies else None
        val_acc = (net.accuracy(*validation)
                   if loss_fn.classifies and validation is not None else None)
    else:
        # The kept epoch's numbers; a curve not recorded gives None.
        curves = [history.loss, history.val_loss, history.accuracy, history.val_accuracy]
        loss, val_loss, acc, val_acc = (  # type: ignore[assignment]
            None if curve is None else curve[kept] for curve in curves)
    where = f"all {X.shape[0]}" if validation is None else f"the {X.shape[0]} training"
    line = f"Final loss ({LOSS_NAMES[loss_fn.name]} over {where} rows): {loss:.6g}"
    if validation is not None:
        line += f"; validation ({validation[0].shape[0]} rows): {val_loss:.6g}"
    print(line)
    if loss_fn.classifies:
        print(f"Final accuracy: {acc:.3f}"
              + (f"; validation: {val_acc:.3f}" if validation is not None else ""))
