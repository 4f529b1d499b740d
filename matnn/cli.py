"""The ``matnn`` command line (also ``python -m matnn``).

Each command is a ``_cmd_*`` function that takes the parsed arguments and
returns an exit status. A :class:`CommandError` raised anywhere below becomes
one line on stderr and exit status 2, never a traceback; so does running out
of memory, and sizes, epochs, runs or batches whose memory can be estimated
beforehand are refused that way before anything is allocated. Ctrl-C prints
``matnn COMMAND: interrupted`` and exits with status 130. A warning raised
while a command runs is shown as one line, ``matnn COMMAND: warning: ...``.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
import warnings

import numpy as np

from . import data, digits, scalar
from .activations import ACTIVATIONS
from .csvfile import read_table, write_table
from .explain import explain, report
from .gradient_check import MAX_COORDS, gradcheck
from .layers import Dense
from .lesson import lesson_page, model_page
from .backprop import n_params
from .network import Network
from .lbfgs import LBFGS
from .optimizers import SGD, Adam, AdamW
from .saving import load, save
from .seeds import CONVERGED, train_seeds
from .training import TrainingDiverged
from .threads import get_num_threads, set_num_threads
from .memory import check_memory, fit_bytes

__all__ = ["main", "CommandError"]


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def _cmd_demo(args):
    if args.plot:
        _pyplot()  # fail now rather than after training
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
        _plot_losses(args.plot, scalar_log, history, seed=args.seed, learning_rate=0.1)
    return 0


def _spans_decades(values):
    """True when positive ``values`` span at least a factor of 10: worth a log axis."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    return values.size > 1 and values.max() >= 10 * values.min()


def _plot_losses(path, scalar_log, history, *, seed, learning_rate):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.arange(len(history)), history, label="matrix form (every epoch)")
    epochs, losses = zip(*scalar_log)
    ax.plot(epochs, losses, "o", markersize=3, label="scalar shim (every 10 epochs)")
    ax.set_xlabel("epoch")
    if _spans_decades(history):
        ax.set_yscale("log")
        ax.set_ylabel("MSE loss (log scale)")
    else:
        ax.set_ylabel("MSE loss")
    ax.set_title(f"Training the document's network\nnp.random.seed({seed}), "
                 f"learning rate {learning_rate:g}")
    ax.legend()
    fig.tight_layout()
    _save_figure(fig, path)
    print(f"Wrote the loss curve to {path}")


def _pyplot():
    """matplotlib.pyplot with a headless backend, or a clear CommandError."""
    try:
        import matplotlib
    except ImportError:
        raise CommandError(
            "plotting needs matplotlib, an optional extra: pip install 'matnn[plot]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, path):
    import matplotlib.pyplot as plt

    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


def _cmd_explain(args):
    if (args.x is None) != (args.y is None):
        raise CommandError("--x and --y go together: give both, or neither")
    if args.x is not None and args.sample is not None:
        raise CommandError("choose the sample with --sample or with --x/--y, not both")
    explanation = explain(args.param, args.sample or "Alice", x=args.x, y_true=args.y,
                          seed=args.seed)
    print(report(explanation))
    return 0


def _cmd_train(args):
    loss = args.loss
    if args.patience is not None and args.validation_split is None:
        raise CommandError("--patience watches the validation loss: it needs --validation-split")
    optimizer, learning_rate, described = _optimizer(args, _TRAIN_RATES, momentum=0.0)
    lbfgs = isinstance(optimizer, LBFGS)
    if lbfgs and not args.shuffle:
        raise CommandError(_NOT_WITH_LBFGS.format(option="--no-shuffle"))
    batch_size = 1 if args.batch_size is None else args.batch_size
    table, header = _read(functools.partial(read_table, header=args.header), args.csv)
    n_rows, n_columns = table.shape
    if n_columns < 2:
        raise CommandError(f"{args.csv} has 1 column; it needs features, then target(s)")
    names = header or [f"column {i}" for i in range(1, n_columns + 1)]
    labelled = loss == "cross_entropy"
    if labelled:
        # One column of class labels; the network has one output per class.
        labels = _class_labels(table[:, -1], names[-1], args.csv)
        sizes = args.sizes or (n_columns - 1, 2, max(2, int(labels.max()) + 1))
        if sizes[-1] < 2:
            raise CommandError("--loss cross_entropy needs at least 2 classes, the last of "
                               f"--sizes, got {sizes[-1]}; for two classes with one output "
                               "use --loss binary_cross_entropy")
        n_features = n_columns - 1
        if sizes[0] != n_features:
            raise CommandError(
                f"{args.csv} has {n_columns} columns, but sizes {_joined(sizes)} with --loss "
                f"cross_entropy need {sizes[0]} feature + 1 label = {sizes[0] + 1} columns"
            )
        if labels.max() >= sizes[-1]:
            i = int(np.argmax(labels))
            raise CommandError(
                f"{args.csv}: {names[-1]} holds class {labels[i]} in data row {i + 1}, but sizes "
                f"{_joined(sizes)} give {sizes[-1]} classes, 0 to {sizes[-1] - 1}"
            )
        Y = labels
    else:
        sizes = args.sizes or (n_columns - 1, 2, 1)
        if sizes[0] + sizes[-1] != n_columns:
            raise CommandError(
                f"{args.csv} has {n_columns} columns, but sizes {_joined(sizes)} "
                f"need {sizes[0]} feature + {sizes[-1]} target = {sizes[0] + sizes[-1]} columns"
            )
        Y = table[:, sizes[0]:]
        if loss == "binary_cross_entropy":
            _check_probabilities(Y, names[sizes[0]:], args.csv)
    activations = _activations(args.activation, sizes, loss)
    _check_memory(f"training a {_joined(sizes)} network on {n_rows} rows "
                  f"for {args.epochs} epochs", fit_bytes(sizes, n_rows, args.epochs))
    X = table[:, :sizes[0]]
    rng = np.random.default_rng(args.seed)
    net = _network(sizes, activations, rng, loss)
    validation = None
    if args.validation_split is not None:
        X, Y, validation = _split_rows(X, Y, args.validation_split, rng, n_rows)

    print(f"Training a {_joined(sizes)} {_shown(activations)} network on {n_rows} rows "
          f"of {args.csv} ({_header_note(header, args.header)})")
    targets = names[sizes[0]:]
    if labelled:
        target = f"class label: {targets[0]} ({sizes[-1]} classes, 0 to {sizes[-1] - 1})"
    else:
        target = f"target{'s' if len(targets) > 1 else ''}: {', '.join(targets)}"
    print(f"features: {', '.join(names[:sizes[0]])}; {target}; loss: {_LOSS_NAMES[loss]}")
    if validation is not None:
        n_val = validation[0].shape[0]
        print(f"validation: {n_val} of the {n_rows} rows ({args.validation_split:.0%}, drawn "
              f"with the seed); training on the other {n_rows - n_val}")
    if lbfgs:
        print(f"{described}, seed {args.seed}")
    else:
        order = "" if args.shuffle else ", rows in file order"
        print(f"{args.epochs} epochs, {described}, batch size {batch_size}{order}, "
              f"seed {args.seed}")
    history = _fit(net, X, Y, validation, optimizer=optimizer, learning_rate=learning_rate,
                   epochs=args.epochs, batch_size=batch_size, shuffle=args.shuffle, rng=rng,
                   patience=args.patience)
    _print_outcome(net, history, (X, Y), validation, optimizer, args.patience)
    if args.save:
        try:
            save(net, args.save)
        except OSError as exc:
            raise CommandError(f"cannot write {args.save}: {exc.strerror or exc}") from None
        print(f"Saved the model to {args.save}")
    return 0


def _cmd_predict(args):
    net = _read(load, args.model)
    table, names = _read(functools.partial(read_table, header=args.header), args.csv)
    note = f"{args.csv}: {_header_note(names, args.header)}"
    if table.shape[1] != net.n_in:
        raise CommandError(
            f"{args.csv} has {table.shape[1]} columns, but the model in {args.model} "
            f"takes {net.n_in} features (and no target columns)"
        )
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
    try:
        with open(args.out, "w", newline="", encoding="utf-8") as f:
            write_table(f, predictions, header)
    except OSError as exc:
        raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"Wrote {len(predictions)} predictions to {args.out} ({note})")
    return 0


def _header_note(names, header):
    """Which the first row of a CSV file was, and who decided."""
    found = "header row" if names is not None else "no header row"
    if header is None:
        return f"{found} detected"
    return f"{found}, as --{'' if header else 'no-'}header says"


def _read(read, path):
    """``read(path)``, with any problem of the file as a one-line CommandError."""
    try:
        return read(path)
    except FileNotFoundError:
        raise CommandError(f"no such file: {path}") from None
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None


#: ``matnn digits`` defaults, chosen by trying a few (hidden 32, 64 or 128; 20
#: to 50 epochs; Adam at 1e-3 to 3e-3; batch 16 or 32) over many seeds. These
#: train in about 0.2 s; over seeds 0..29 the test accuracy averages 0.969,
#: and 29 of the 30 reach 0.96 (seed 21, a hard split, 0.956).
_DIGITS_HIDDEN, _DIGITS_EPOCHS, _DIGITS_BATCH = 64, 30, 32
_DIGITS_RATES = {"sgd": 0.05, "adam": 2e-3, "adamw": 2e-3}
_DIGITS_MOMENTUM = 0.9
#: At most this many misclassified digits are drawn.
_MOST_DRAWN = 40


def _cmd_digits(args):
    if args.plot or args.misclassified:
        _pyplot()  # fail now rather than after training
    optimizer, learning_rate, described = _optimizer(args, _DIGITS_RATES,
                                                     momentum=_DIGITS_MOMENTUM)
    lbfgs = isinstance(optimizer, LBFGS)
    batch_size = _DIGITS_BATCH if args.batch_size is None else args.batch_size
    sizes = (digits.N_FEATURES, args.hidden, digits.N_CLASSES)
    shape = "-".join(map(str, sizes))
    _check_memory(f"training a {shape} network on the digits for {args.epochs} epochs",
                  fit_bytes(sizes, digits.N_SAMPLES, args.epochs))
    start = time.perf_counter()
    try:
        split = digits.load(args.seed)
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
    history = _fit(net, split.X_train, split.y_train, validation, optimizer=optimizer,
                   learning_rate=learning_rate, epochs=args.epochs, batch_size=batch_size,
                   shuffle=True, rng=rng, patience=args.patience)
    trained = time.perf_counter() - trained
    _print_outcome(net, history, (split.X_train, split.y_train), validation, optimizer,
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
        _plot_learning_curves(args.plot, history, accuracy, shape, described)
    if args.misclassified:
        _plot_misclassified(args.misclassified, split.X_test, split.y_test, predicted)
    return 0


def _confusion(y_true, y_pred, k):
    """(k, k) counts: row ``i`` column ``j`` is how many of class ``i`` were called ``j``."""
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def _confusion_table(y_true, y_pred):
    counts = _confusion(y_true, y_pred, digits.N_CLASSES)
    width = max(3, len(str(counts.max())) + 1)
    lines = ["Confusion matrix: a row for each true digit, a column for each predicted one",
             f"{'predicted':>{4 + width * digits.N_CLASSES // 2 + 4}}",
             "true" + "".join(f"{j:>{width}}" for j in range(digits.N_CLASSES))]
    for i, row in enumerate(counts):
        lines.append(f"{i:>4}" + "".join(f"{c:>{width}}" for c in row))
    return "\n".join(lines)


def _plot_learning_curves(path, history, test_accuracy, shape, described):
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(len(history))
    curves = ((left, history.loss, history.val_loss, "cross-entropy loss"),
              (right, history.accuracy, history.val_accuracy, "accuracy"))
    for ax, train, val, name in curves:
        if train is None:  # L-BFGS records only the training loss
            ax.set_visible(False)
            continue
        ax.plot(epochs, train, label="training")
        if val is not None:
            ax.plot(epochs, val, label="validation")
        if history.best_epoch is not None:
            ax.axvline(history.best_epoch, color="grey", linestyle=":",
                       label=f"kept: epoch {history.best_epoch}")
        ax.set_xlabel("epoch" if history.converged is None else "iteration")
        ax.set_ylabel(name)
        ax.legend()
    if _spans_decades(history.loss):
        left.set_yscale("log")
        left.set_ylabel("cross-entropy loss (log scale)")
    fig.suptitle(f"The 8x8 digits: a {shape} network, {described}; "
                 f"test accuracy {test_accuracy:.3f}", fontsize=10)
    fig.tight_layout()
    _save_figure(fig, path)
    print(f"Wrote the learning curves to {path}")


def _plot_misclassified(path, X, y, predicted):
    wrong = np.flatnonzero(predicted != y)
    if not wrong.size:
        print(f"No test digit was misclassified; {path} not written")
        return
    plt = _pyplot()
    shown = wrong[:_MOST_DRAWN]
    columns = min(10, shown.size)
    rows = -(-shown.size // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.55 * rows + 0.6),
                             squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, i in zip(axes.flat, shown):
        ax.imshow(X[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"true {y[i]}\npredicted {predicted[i]}", fontsize=8)
    more = f" (the first {shown.size})" if shown.size < wrong.size else ""
    fig.suptitle(f"{wrong.size} of {len(y)} test digits misclassified{more}", fontsize=10)
    fig.tight_layout()
    _save_figure(fig, path)
    print(f"Wrote {shown.size} misclassified test digits to {path}")


# -- training, shared by train and digits -------------------------------------

#: Each loss as the output names it.
_LOSS_NAMES = {"mse": "MSE", "cross_entropy": "cross-entropy",
               "binary_cross_entropy": "binary cross-entropy"}

#: Default learning rate per optimizer for ``matnn train``: the lesson's 0.1
#: for SGD, the usual 1e-3 for Adam and AdamW.
_TRAIN_RATES = {"sgd": 0.1, "adam": 1e-3, "adamw": 1e-3}

_NOT_WITH_LBFGS = ("--optimizer lbfgs trains on all the rows at once until it converges: "
                   "it takes no {option}")


def _optimizer(args, rates, *, momentum):
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
                raise CommandError(_NOT_WITH_LBFGS.format(option=option))
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
        optimizer = (kind(rate) if args.weight_decay is None
                     else kind(rate, weight_decay=args.weight_decay))
        return (optimizer, None, f"{kind.__name__}, learning rate {rate:g}, weight decay "
                                 f"{optimizer.weight_decay:g}")
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


def _fit(net, X, y, validation, *, optimizer, learning_rate, epochs, batch_size, shuffle, rng,
         patience):
    """``net.fit`` with progress; a validation set also keeps its best epoch's parameters.

    L-BFGS cannot watch a validation set while it runs, so it trains on
    ``X`` alone and the caller evaluates ``validation`` afterwards.
    """
    lbfgs = isinstance(optimizer, LBFGS)
    watched = None if lbfgs else validation
    progress = _Progress(net, X, y, watched, epochs, "iteration" if lbfgs else "epoch")
    try:
        if lbfgs:
            history = net.fit(X, y, optimizer=optimizer, callback=progress)
        else:
            history = net.fit(X, y, epochs=epochs, learning_rate=learning_rate,
                              optimizer=optimizer, batch_size=batch_size, shuffle=shuffle,
                              seed=rng, validation_data=watched, patience=patience,
                              restore_best=watched is not None, callback=progress)
    except TrainingDiverged as exc:
        progress.end()
        raise CommandError(str(exc)) from None
    except BaseException:
        progress.end()
        raise
    progress.finish(history)
    return history


class _Progress:
    """The callback that shows training progress, one epoch at a time.

    On a terminal it is one line, rewritten in place (at most ten times a
    second) with the epoch, the losses, the accuracies of a classifier and
    the time left. Anywhere else (a file, a pipe, a CI log) it prints about
    ten plain lines, without timings, whatever the number of epochs.
    """

    def __init__(self, net, X, y, validation, total, unit):
        self.net, self.X, self.total, self.unit = net, X, total, unit
        self.Y = net.loss_fn.targets(y, X.shape[0], net.n_out, net.dtype)
        self.validation = validation
        if validation is not None:
            Xv, yv = validation
            self.validation = Xv, net.loss_fn.targets(yv, Xv.shape[0], net.n_out, net.dtype)
        self.tty = sys.stdout.isatty()
        self.every = max(1, total // 10)
        self.width = len(str(total - 1))
        self.start = self.shown_at = time.perf_counter()
        self.shown = None  # the last epoch shown
        self.length = 0    # of the line on the terminal, to blank it when it shrinks

    def __call__(self, record):
        epoch, loss = record.epoch, record.loss
        now = time.perf_counter()
        if self.tty:
            if now - self.shown_at < 0.1 and epoch != self.total - 1:
                return None
        elif epoch % self.every and epoch != self.total - 1:
            return None
        net, val_loss, accuracy, val_accuracy = self.net, None, None, None
        if self.validation is not None:
            val_loss = net.loss(*self.validation)
        if net.loss_fn.classifies and self.unit == "epoch":
            accuracy = _accuracy(net, self.X, self.Y)
            if self.validation is not None:
                val_accuracy = _accuracy(net, *self.validation)
        left = (now - self.start) / (epoch + 1) * (self.total - epoch - 1)
        self._show(epoch, loss, val_loss, accuracy, val_accuracy, left)
        self.shown_at = now
        return None

    def finish(self, history):
        """Show the last epoch (an early stop's is not the planned last), then end the line.

        On a terminal the line is redrawn with the total time instead of the time left.
        """
        last = len(history) - 1
        if last >= 0 and (self.tty or last != self.shown):
            def at(curve):
                return None if curve is None else curve[last]

            accuracy = at(history.accuracy) if self.unit == "epoch" else None
            self._show(last, history.loss[last], at(history.val_loss), accuracy,
                       at(history.val_accuracy), None)
        self.end()

    def end(self):
        """Move off the rewritten line, so what follows starts on a line of its own."""
        if self.tty and self.shown is not None:
            print(flush=True)
            self.shown = None

    def _show(self, epoch, loss, val_loss, accuracy, val_accuracy, left):
        fields = [f"{self.unit} {epoch:>{self.width}}", f"loss {loss:.6g}"]
        if val_loss is not None:
            fields.append(f"val_loss {val_loss:.6g}")
        if accuracy is not None:
            fields.append(f"accuracy {accuracy:.3f}")
        if val_accuracy is not None:
            fields.append(f"val_accuracy {val_accuracy:.3f}")
        line = "  ".join(fields)
        if self.tty:
            line += (f"  done in {_duration(time.perf_counter() - self.start)}" if left is None
                     else f"  {_duration(left)} left")
            print(f"\r{line:<{self.length}}", end="", flush=True)
            self.length = len(line)
        else:
            print(line)
        self.shown = epoch


def _duration(seconds):
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def _accuracy(net, X, Y):
    """The fraction of ``Y`` (as ``loss_fn.targets`` gives it) that ``net`` gets right.

    Counted as ``fit`` counts it for ``history.accuracy``: by the loss's own
    ``correct`` (each row's class for cross-entropy, each output's 0/1 answer
    for binary cross-entropy).
    """
    loss_fn = net.loss_fn
    return float(loss_fn.correct(loss_fn.truth(Y), net.predict(X))) / loss_fn.count(Y)


def _print_outcome(net, history, train, validation, optimizer, patience):
    """How training ended, and the final loss (and accuracy) of the network it left."""
    if isinstance(optimizer, LBFGS):
        print(f"L-BFGS: {len(history)} iterations, "
              f"{'converged' if history.converged else 'did not converge'} "
              f"(scipy: {history.message})")
    if patience is not None:
        if history.stopped_early:
            print(f"Early stopping: yes, after epoch {len(history) - 1}, {patience} epochs "
                  "without a lower validation loss")
        else:
            print(f"Early stopping: no, all {len(history)} epochs ran")
    if history.best_epoch is not None:
        print(f"Kept the parameters of epoch {history.best_epoch}, the lowest validation loss "
              f"({history.val_loss[history.best_epoch]:.6g})")
    X, y = train
    loss_fn = net.loss_fn
    where = f"all {X.shape[0]}" if validation is None else f"the {X.shape[0]} training"
    line = f"Final loss ({_LOSS_NAMES[loss_fn.name]} over {where} rows): {net.loss(X, y):.6g}"
    if validation is not None:
        line += f"; validation ({validation[0].shape[0]} rows): {net.loss(*validation):.6g}"
    print(line)
    if loss_fn.classifies:
        accuracy = [_accuracy(net, X, loss_fn.targets(y, X.shape[0], net.n_out, net.dtype))]
        if validation is not None:
            Xv, yv = validation
            accuracy.append(_accuracy(net, Xv, loss_fn.targets(yv, Xv.shape[0], net.n_out,
                                                               net.dtype)))
        print(f"Final accuracy: {accuracy[0]:.3f}"
              + (f"; validation: {accuracy[1]:.3f}" if validation is not None else ""))


def _class_labels(column, name, path):
    """A CSV column of class labels 0, 1, 2, ... as int64, or a one-line error."""
    bad = np.flatnonzero((column != np.round(column)) | (column < 0))
    if bad.size:
        i = int(bad[0])
        raise CommandError(
            f"{path}: with --loss cross_entropy the last column ({name}) holds class labels "
            f"0, 1, 2, ..., but data row {i + 1} has {column[i]:g}"
        )
    return column.astype(np.int64)


def _check_probabilities(Y, names, path):
    bad = np.argwhere((Y < 0) | (Y > 1))
    if bad.size:
        i, j = (int(v) for v in bad[0])
        raise CommandError(
            f"{path}: --loss binary_cross_entropy needs targets from 0 to 1, but {names[j]} "
            f"is {Y[i, j]:g} in data row {i + 1}"
        )


def _activations(given, sizes, loss):
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


def _network(sizes, activations, rng, loss):
    try:
        return Network.from_sizes(sizes, activations, seed=rng, loss=loss)
    except ValueError as exc:
        # The loss refuses the network: cross_entropy with one output, or
        # a cross-entropy whose output layer gives no probabilities.
        raise CommandError(str(exc)) from None


def _split_rows(X, Y, fraction, rng, n_rows):
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


def _joined(sizes):
    return ",".join(map(str, sizes))


def _shown(activations):
    """``sigmoid`` when every layer has it, else ``tanh/tanh/softmax``."""
    return activations[0] if len(set(activations)) == 1 else "/".join(activations)


def _cmd_seeds(args):
    if args.plot:
        _pyplot()  # fail now rather than after training
    rates = args.lr
    _check_memory(f"{args.runs} runs x {len(rates)} learning "
                  f"rate{'s' if len(rates) > 1 else ''} x {args.epochs} epochs",
                  _seeds_bytes(args.runs * len(rates), args.epochs))
    start = time.perf_counter()
    results = train_seeds(range(args.runs), rates, args.epochs)
    elapsed = time.perf_counter() - start

    print(f"== The document's network trained from {args.runs} seeds at once")
    print(f"Run s starts from np.random.seed(s), s = 0..{args.runs - 1}, as `matnn demo --seed s` "
          "does;")
    print(f"each trains on the 4 people for {args.epochs} epochs of per-sample SGD in "
          f"dataset order, learning rate {', '.join(f'{lr:g}' for lr in rates)}.")
    for r in results:
        print()
        _print_seed_runs(r, args.slowest, CONVERGED)
    if len(results) > 1:
        print()
        print("== Learning rates side by side")
        print(f"{'rate':>8}  {'Emily F, Frank M':>16}  {'median final loss':>17}  "
              f"{f'median epochs to < {CONVERGED:g}':>24}  {'diverged':>8}")
        for r in results:
            epochs = r.epochs_to(CONVERGED)
            reached = epochs[epochs > 0]
            median = (f"{int(np.quantile(reached, 0.5, method='inverted_cdf'))}"
                      if reached.size * 2 > epochs.size else "never")
            print(f"{r.learning_rate:>8g}  {r.correct.mean():>16.1%}  "
                  f"{np.median(r.final_loss):>17.5f}  {median:>24}  {int(r.failed.sum()):>8}")
    print()
    print(f"Trained {args.runs * len(rates)} runs x {args.epochs} epochs as one ensemble "
          f"in {elapsed:.2f} s")
    if args.plot:
        _plot_final_losses(args.plot, results, args.epochs)
    return 0


def _print_seed_runs(r, n_slowest, threshold):
    n = len(r.seeds)
    print(f"== Learning rate {r.learning_rate:g}")
    print(f"Emily classified F and Frank M: {int(r.correct.sum())} of {n} runs "
          f"({r.correct.mean():.1%})")
    levels = (0, 0.05, 0.25, 0.5, 0.75, 0.95, 1)
    names = ("min", "5%", "25%", "median", "75%", "95%", "max")
    values = np.quantile(r.final_loss, levels)
    print("Final loss: " + ", ".join(f"{k} {v:.5f}" for k, v in zip(names, values)))
    epochs = r.epochs_to(threshold)
    reached = epochs[epochs > 0]
    never = n - reached.size
    if reached.size:
        q = np.quantile(reached, (0.5, 0.95, 1), method="inverted_cdf")
        print(f"Epochs until the loss first falls below {threshold:g} (runs that get there): "
              f"median {q[0]}, 95% {q[1]}, max {q[2]}; {never} of {n} runs never do")
    else:
        print(f"Epochs until the loss first falls below {threshold:g}: no run gets there")
    print(f"Slowest to converge (runs that never get below {threshold:g} first, "
          "highest final loss first; then most epochs):")
    print(f"{'seed':>8}  {'epochs':>7}  {'final loss':>10}  {'Emily':>6}  {'Frank':>6}")
    for i in r.slowest(n_slowest, threshold):
        shown = "never" if epochs[i] < 0 else str(epochs[i])
        emily, frank = r.predictions[i]
        print(f"{r.seeds[i]:>8}  {shown:>7}  {r.final_loss[i]:>10.5f}  {emily:>6.3f}  {frank:>6.3f}")
    failed = r.seeds[r.failed]
    if failed.size:
        print(f"Diverged, frozen at their last finite parameters: {failed.size} runs "
              f"(seeds {', '.join(map(str, failed[:10]))}{', ...' if failed.size > 10 else ''})")
    else:
        print("No run diverged.")


def _plot_final_losses(path, results, epochs):
    plt = _pyplot()
    fig, axes = plt.subplots(len(results), 1, figsize=(7, 2.2 + 2.6 * len(results)),
                             squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        groups = [(r.final_loss[r.split], "w5, w6 of opposite signs (h1, h2 split the work)"),
                  (r.final_loss[~r.split], "w5, w6 of one sign (h1, h2 learned the same thing)")]
        losses = r.final_loss[np.isfinite(r.final_loss) & (r.final_loss > 0)]
        # Final losses can span decades, so the bins are even on a log scale.
        bins = (np.geomspace(losses.min(), losses.max(), 41)
                if losses.size and losses.min() < losses.max() else 40)
        ax.hist([g[g > 0] for g, _ in groups], bins=bins, stacked=True,
                label=[f"{label}: {g.size} runs" for g, label in groups])
        ax.set_xscale("log")
        ax.set_xlabel("final MSE loss (log scale)")
        ax.set_ylabel("runs")
        ax.set_title(f"{len(r.seeds)} seeds, learning rate {r.learning_rate:g}, {epochs} epochs",
                     fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle("Final loss of the document's network, run s from np.random.seed(s)")
    fig.text(0.5, 0.01, _two_peaks_caption(results), ha="center", va="bottom", fontsize=8,
             wrap=True)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    _save_figure(fig, path)
    print(f"Wrote the histogram of final losses to {path}")


def _two_peaks_caption(results):
    """Why the final losses form two peaks, with each group's median from these runs."""
    parts = []
    for r in results:
        if r.split.any() and (~r.split).any():
            parts.append(f"rate {r.learning_rate:g}: median "
                         f"{np.median(r.final_loss[r.split]):.2g} split vs "
                         f"{np.median(r.final_loss[~r.split]):.2g} same")
    if not parts:
        return "Every run ended with its hidden neurons in the same arrangement."
    return ("Two peaks: when w5 and w6 have opposite signs, one hidden neuron fires for the "
            "women and the other for the men, and the output ends closer to 0 and 1 (lower "
            "loss) than when both hidden neurons learned the same thing.\n" + "; ".join(parts))


def _cmd_gradcheck(args):
    if args.sizes is None and args.activation is None and args.batch is None:
        x, y_true = data.sample("Alice")
        net = Network([Dense(np.ones((2, 2)), np.zeros(2), "sigmoid", dtype=args.dtype),
                       Dense(np.ones((1, 2)), np.zeros(1), "sigmoid", dtype=args.dtype)])
        X, y = x.reshape(1, -1), [y_true]
        print(f"The document's network at its worked example: Alice (x = {x.tolist()}, "
              f"y_true = {y_true}), every weight 1, every bias 0, {args.dtype}")
    else:
        sizes = args.sizes or (2, 2, 1)
        activation = args.activation or "sigmoid"
        batch = args.batch or 8
        _check_memory(f"checking a {','.join(map(str, sizes))} network on {batch} samples",
                      _gradcheck_bytes(sizes, batch, args.max_coords))
        rng = np.random.default_rng(args.seed)
        net = Network.from_sizes(sizes, activation, seed=rng, dtype=args.dtype)
        X = rng.uniform(-3, 3, size=(batch, sizes[0]))
        y = rng.uniform(0, 1, size=(batch, sizes[-1]))
        print(f"A random {','.join(map(str, sizes))} {activation} network, {args.dtype}, "
              f"on {batch} random samples (seed {args.seed})")
    try:
        result = gradcheck(net, X, y, eps=args.eps, rtol=args.rtol, atol=args.atol,
                           method=args.method, max_coords=args.max_coords, seed=args.seed,
                           raise_exception=False)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    print(result.table())
    if result.ok:
        return 0
    print()
    print(result.report())
    return 1


def _cmd_report(args):
    if (args.model is None) != (args.data is None):
        raise CommandError("--model and --data go together: give both for a model's page, "
                           "or neither for the lesson page")
    if args.model is None:
        page = lesson_page(runs=args.runs, seed=args.seed)
        what = "the lesson page"
    else:
        net = _read(load, args.model)
        table, _ = _read(read_table, args.data)
        n_columns = net.n_in + net.n_out
        if table.shape[1] != n_columns:
            raise CommandError(
                f"{args.data} has {table.shape[1]} columns, but the model in {args.model} "
                f"needs {net.n_in} feature + {net.n_out} target = {n_columns} columns"
            )
        page = model_page(net, table[:, :net.n_in], table[:, net.n_in:],
                          source=os.path.basename(args.data))
        what = f"the page for {args.model}"
    try:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(page)
    except OSError as exc:
        raise CommandError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"Wrote {what} to {args.out}")
    return 0


# -- memory estimates, checked before anything is allocated ------------------
#
# Each estimate is the bytes a command's arrays need, with a margin for the
# temporaries numpy makes; a command whose estimate exceeds the machine's
# physical memory is refused at once instead of thrashing or being killed.

#: Bytes per float64 number.
_FLOAT = 8

#: Bytes per seeds-study run besides its loss history: its nine parameters
#: and their share of the ensemble's buffers, but mostly the Python objects
#: of its starting network (about 2 KB measured with tracemalloc), doubled.
_SEED_RUN_BYTES = 4096


def _seeds_bytes(n_runs, epochs):
    # Each run's loss history, plus the comparisons the report makes of it.
    return n_runs * (_SEED_RUN_BYTES + 2 * _FLOAT * epochs)


def _gradcheck_bytes(sizes, batch, max_coords):
    # The network, its float64 twin, the analytic gradient, the twin's
    # workspace and the two points of the rounding-noise measurement;
    # activations for the batch; one small probe (a few hundred bytes of
    # Python objects) per checked coordinate.
    probes = min(n_params(sizes), max_coords)
    return _FLOAT * (8 * n_params(sizes) + 6 * batch * sum(sizes)) + 400 * probes


def _check_memory(what, needed):
    try:
        check_memory(needed, what)
    except MemoryError as exc:
        raise CommandError(f"{exc}; use smaller values") from None


def _checked(convert, accept, requirement):
    """An argparse type: ``convert`` the text, then insist that ``accept`` it."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{requirement}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"{requirement}, got {text!r}")
        return value
    return parse


def _sizes(text):
    return _checked(lambda t: tuple(int(v) for v in t.split(",")),
                    lambda s: len(s) >= 2 and min(s) >= 1,
                    "expected at least two widths >= 1 such as 2,2,1")(text)


def _activation_names(text):
    names = [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in ACTIVATIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown activation {unknown[0]!r}; choose from {', '.join(sorted(ACTIVATIONS))}, "
            "one for every layer or one per layer separated by commas")
    return names


def _add_optimizer_options(parser, rates, *, momentum, batch, default="sgd"):
    """--optimizer, --lr, --momentum, --nesterov, --weight-decay and --batch-size."""
    positive = _checked(float, lambda v: np.isfinite(v) and v > 0, "expected a finite number > 0")
    at_least_zero = _checked(float, lambda v: np.isfinite(v) and v >= 0,
                             "expected a finite number >= 0")
    parser.add_argument("--optimizer", choices=["sgd", "adam", "adamw", "lbfgs"],
                        default=default,
                        help="sgd (plain, the lesson's rule, unless --momentum or "
                             "--weight-decay), adam, adamw, or lbfgs (scipy's L-BFGS-B on "
                             f"all rows at once) (default {default})")
    parser.add_argument("--lr", type=positive,
                        help="learning rate (default "
                             + ", ".join(f"{rate:g} for {name}" for name, rate in rates.items())
                             + ")")
    parser.add_argument("--momentum", type=at_least_zero,
                        help=f"sgd's momentum (default {momentum:g})")
    parser.add_argument("--nesterov", action="store_true",
                        help="sgd with Nesterov momentum (needs momentum > 0)")
    parser.add_argument("--weight-decay", type=at_least_zero,
                        help="L2 weight decay on every parameter, biases included (default 0; "
                             "0.01 for adamw, whose decay is decoupled)")
    parser.add_argument("--batch-size", type=_checked(int, lambda n: n >= 1,
                                                      "expected an integer >= 1"),
                        help=f"samples per update ({batch})")


def _add_threads_option(command):
    command.add_argument(
        "--threads", metavar="N",
        type=_checked(int, lambda n: 1 <= n <= 1024, "expected a thread count from 1 to 1024"),
        help="threads for large batches and ensembles (default: MATNN_NUM_THREADS, else "
             "every core); results do not depend on it")


def _add_header_options(parser):
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--header", dest="header", action="store_const", const=True,
                       help="the CSV's first row is a header")
    which.add_argument("--no-header", dest="header", action="store_const", const=False,
                       help="the CSV's first row is data")
    parser.set_defaults(header=None)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="matnn",
        description="The 'neural network from scratch' lesson in matrix form.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    # np.random.seed and default_rng both refuse anything else, with a traceback.
    a_seed = _checked(int, lambda n: 0 <= n < 2**32, "expected a seed from 0 to 2**32 - 1")

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
    demo.add_argument("--seed", type=a_seed, default=0,
                      help="seed for np.random.seed before drawing the weights (default 0)")
    demo.add_argument("--plot", metavar="PNG",
                      help="also draw both loss curves to this file (needs matplotlib)")
    demo.set_defaults(run=_cmd_demo)

    explain = commands.add_parser(
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
    explain.add_argument("--param", choices=scalar.PARAM_NAMES, default="w1",
                         help="the parameter to differentiate by (default w1)")
    explain.add_argument("--sample", type=str.capitalize, choices=data.NAMES,
                         help="a person from the document's table (default Alice)")
    explain.add_argument("--x", metavar="X1,X2",
                         type=_checked(lambda t: tuple(float(v) for v in t.split(",")),
                                       lambda v: len(v) == 2 and np.isfinite(v).all(),
                                       "expected two numbers X1,X2 (write --x=-2,-1 "
                                       "when X1 is negative)"),
                         help="a raw input instead: weight - 135 and height - 66, "
                              "e.g. --x=-7,-3 (needs --y)")
    explain.add_argument("--y", metavar="Y", type=_checked(float, np.isfinite,
                                                           "expected a finite number"),
                         help="the target for --x (1 for F, 0 for M)")
    explain.add_argument("--seed", type=a_seed,
                         help="draw the weights as the document does after "
                              "np.random.seed(SEED) instead of the all-ones setup")
    explain.set_defaults(run=_cmd_explain)

    at_least_one = _checked(int, lambda n: n >= 1, "expected an integer >= 1")
    train = commands.add_parser(
        "train",
        help="train a network on a CSV file and optionally save it",
        description=(
            "Train a network from a CSV file of numbers: the feature columns first, "
            "then the target column(s). A header row is optional: unless --header or "
            "--no-header says, a first row with no numbers is one, and a first row "
            "mixing numbers and text is an error. With --loss cross_entropy the last "
            "column holds integer class labels 0, 1, 2, ... and the network has one "
            "output per class: --sizes 4,8,3 is 4 features and 3 classes, from 5 "
            "columns. The default is the lesson's: plain per-sample SGD on the MSE. "
            "On a terminal one progress line is rewritten every epoch; otherwise the "
            "loss is printed about ten times. The final loss (and a classifier's "
            "accuracy) is printed at the end."
        ),
    )
    train.add_argument("csv", help="the training data")
    train.add_argument("--sizes", metavar="N,N,...", type=_sizes,
                       help="layer widths: features, hidden..., outputs; the first and "
                            "last must add up to the CSV's columns, or with --loss "
                            "cross_entropy the last is the number of classes (default: "
                            "every column but the last is a feature, 2 hidden, 1 output "
                            "or one per class)")
    train.add_argument("--activation", metavar="NAME[,NAME...]", type=_activation_names,
                       help="one activation for every layer, or one per layer (e.g. "
                            f"tanh,identity); from {', '.join(sorted(ACTIVATIONS))} (default "
                            "sigmoid, with a softmax output for --loss cross_entropy)")
    train.add_argument("--loss", choices=sorted(_LOSS_NAMES), default="mse",
                       help="mse (the lesson's), cross_entropy (class labels in the last "
                            "column; softmax output) or binary_cross_entropy (targets from "
                            "0 to 1; sigmoid output) (default mse)")
    train.add_argument("--epochs", type=at_least_one, default=1000,
                       help="passes over the data; for lbfgs the most iterations "
                            "(default 1000)")
    _add_optimizer_options(train, _TRAIN_RATES, momentum=0.0,
                           batch="default 1, the document's per-sample SGD")
    train.add_argument("--validation-split", metavar="FRACTION",
                       type=_checked(float, lambda v: 0 < v < 1,
                                     "expected a fraction between 0 and 1 such as 0.2"),
                       help="hold out this fraction of the rows (a seeded random choice) "
                            "and report the loss on them; the network keeps the "
                            "parameters of its epoch with the lowest validation loss")
    train.add_argument("--patience", metavar="N", type=at_least_one,
                       help="stop after N epochs without a lower validation loss "
                            "(needs --validation-split)")
    train.add_argument("--no-shuffle", dest="shuffle", action="store_false",
                       help="keep the rows in file order instead of shuffling every epoch "
                            "(the document's order)")
    train.add_argument("--seed", type=a_seed, default=0,
                       help="seed for the initial weights, the validation split and the "
                            "shuffling (default 0)")
    _add_header_options(train)
    train.add_argument("--save", metavar="MODEL",
                       help="save the trained network to this file (an .npz archive, "
                            "written atomically)")
    _add_threads_option(train)
    train.set_defaults(run=_cmd_train)

    predict = commands.add_parser(
        "predict",
        help="predict with a saved network",
        description=(
            "Load a network saved by 'matnn train --save' and write its "
            "predictions for every row of a CSV file of features (header "
            "optional, detected as for 'matnn train') as CSV, one row per input row."
        ),
    )
    predict.add_argument("model", help="a model file written by 'matnn train --save'")
    predict.add_argument("csv", help="the features, one sample per row")
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
    _add_header_options(predict)
    predict.set_defaults(run=_cmd_predict)

    hand = commands.add_parser(
        "digits",
        help="classify scikit-learn's 8x8 handwritten digits",
        description=(
            "Train a 64-HIDDEN-10 tanh/softmax network with cross-entropy on the 8x8 "
            "handwritten digits that scikit-learn bundles (1,797 images; needs "
            "pip install 'matnn[examples]'), split 60/20/20 into training, validation "
            "and test images (stratified, seeded). The network keeps the parameters "
            "of its epoch with the lowest validation loss. Prints the progress per "
            "epoch, the test accuracy, the confusion matrix and the time."
        ),
    )
    hand.add_argument("--hidden", metavar="N", type=at_least_one, default=_DIGITS_HIDDEN,
                      help=f"hidden units (default {_DIGITS_HIDDEN})")
    hand.add_argument("--epochs", type=at_least_one, default=_DIGITS_EPOCHS,
                      help=f"passes over the training images; for lbfgs the most "
                           f"iterations (default {_DIGITS_EPOCHS})")
    _add_optimizer_options(hand, _DIGITS_RATES, momentum=_DIGITS_MOMENTUM, default="adam",
                           batch=f"default {_DIGITS_BATCH}")
    hand.add_argument("--patience", metavar="N", type=at_least_one,
                      help="stop after N epochs without a lower validation loss")
    hand.add_argument("--seed", type=a_seed, default=0,
                      help="seed for the split, the initial weights and the shuffling "
                           "(default 0)")
    hand.add_argument("--plot", metavar="PNG",
                      help="draw the learning curves (training and validation loss and "
                           "accuracy) to this file (needs matplotlib)")
    hand.add_argument("--misclassified", metavar="PNG",
                      help="draw the misclassified test digits, with their true and "
                           "predicted labels, to this file (needs matplotlib)")
    _add_threads_option(hand)
    hand.set_defaults(run=_cmd_digits)

    seeds = commands.add_parser(
        "seeds",
        help="train the document's network from many seeds at once",
        description=(
            "Train the document's network from seeds 0..RUNS-1 (each as after "
            "np.random.seed(s)) all at once, as one ensemble, and report how many "
            "runs classify Emily F and Frank M, the quantiles of the final loss, "
            "and the slowest-converging seeds: those needing the most epochs "
            "before the loss first falls below 0.01 (runs that never do come "
            "first). With several --lr rates every seed trains at each."
        ),
    )
    seeds.add_argument("--runs", type=_checked(int, lambda n: n >= 1, "expected an integer >= 1"),
                       default=1000, help="number of seeds (default 1000)")
    seeds.add_argument("--epochs", type=_checked(int, lambda n: n >= 1, "expected an integer >= 1"),
                       default=1000, help="epochs per run (default 1000, as the document)")
    seeds.add_argument("--lr", metavar="RATE[,RATE...]", default=[0.1],
                       type=_checked(lambda t: [float(s) for s in t.split(",")],
                                     lambda rs: all(np.isfinite(r) and r > 0 for r in rs),
                                     "expected comma-separated numbers > 0 such as 0.01,0.1,1"),
                       help="learning rate, or several to compare (default 0.1)")
    seeds.add_argument("--slowest", metavar="N", default=5,
                       type=_checked(int, lambda n: n >= 0, "expected an integer >= 0"),
                       help="how many of the slowest-converging seeds to list (default 5)")
    seeds.add_argument("--plot", metavar="PNG",
                       help="also draw a histogram of final losses (needs matplotlib)")
    _add_threads_option(seeds)
    seeds.set_defaults(run=_cmd_seeds)

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
    page.add_argument("--runs", type=at_least_one, default=200,
                      help="seeds in the lesson page's many-seeds section (default 200)")
    page.add_argument("--seed", type=a_seed, default=0,
                      help="the lesson page's training run starts from np.random.seed(SEED) "
                           "(default 0)")
    page.set_defaults(run=_cmd_report)

    check = commands.add_parser(
        "gradcheck",
        help="check a network's backward pass against finite differences",
        description=(
            "Compare the network's analytic gradient with float64 finite differences "
            "of its loss and print one row per parameter array; exit status 0 when "
            "they agree, 1 when some entry does not (the worst ones are listed). "
            "With none of --sizes, --activation, --batch it checks the document's "
            "network at its worked example: Alice, every weight 1, every bias 0. "
            "Tolerances default to the measured ones for the method and dtype."
        ),
    )
    check.add_argument("--sizes", metavar="N,N,...",
                       type=_checked(lambda t: tuple(int(s) for s in t.split(",")),
                                     lambda s: len(s) >= 2 and min(s) >= 1,
                                     "expected at least two widths >= 1 such as 2,2,1"),
                       help="layer widths of a random network (default 2,2,1)")
    check.add_argument("--activation", choices=sorted(ACTIVATIONS),
                       help="activation of every layer of a random network (default sigmoid)")
    check.add_argument("--batch", metavar="N",
                       type=_checked(int, lambda n: n >= 1, "expected an integer >= 1"),
                       help="number of random samples, features in [-3, 3] (default 8)")
    check.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                       help="the network's dtype (default float64)")
    check.add_argument("--seed", type=a_seed, default=0,
                       help="seed for the random network, samples and sampled coordinates "
                            "(default 0)")
    check.add_argument("--method", choices=["central", "scipy"], default="central",
                       help="central differences, or scipy.differentiate.jacobian "
                            "(default central)")
    positive = _checked(float, lambda v: np.isfinite(v) and v > 0,
                        "expected a finite number > 0")
    at_least_zero = _checked(float, lambda v: np.isfinite(v) and v >= 0,
                             "expected a finite number >= 0")
    check.add_argument("--eps", type=positive, help="finite-difference step")
    check.add_argument("--rtol", type=at_least_zero, help="relative tolerance")
    check.add_argument("--atol", type=at_least_zero, help="absolute tolerance")
    check.add_argument("--max-coords", metavar="N", default=MAX_COORDS,
                       type=_checked(int, lambda n: n >= 1, "expected an integer >= 1"),
                       help="check every coordinate of networks up to this many "
                            f"parameters, a seeded sample beyond (default {MAX_COORDS})")
    check.set_defaults(run=_cmd_gradcheck)

    return parser


def main(argv=None):
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
        print(f"matnn {args.command}: error: {exc}", file=sys.stderr)
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


def _show_warning(command, message, category, filename, lineno, file=None, line=None):
    text = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    print(f"matnn {command}: warning: {text}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
