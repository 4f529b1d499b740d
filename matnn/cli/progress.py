"""The progress of a training run, shown one epoch at a time."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress", "accuracy"]


class Progress:
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
        net, val_loss, acc, val_acc = self.net, None, None, None
        if self.validation is not None:
            val_loss = net.loss(*self.validation)
        if net.loss_fn.classifies and self.unit == "epoch":
            acc = accuracy(net, self.X, self.Y)
            if self.validation is not None:
                val_acc = accuracy(net, *self.validation)
        left = (now - self.start) / (epoch + 1) * (self.total - epoch - 1)
        self._show(epoch, loss, val_loss, acc, val_acc, left)
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

            acc = at(history.accuracy) if self.unit == "epoch" else None
            self._show(last, history.loss[last], at(history.val_loss), acc,
                       at(history.val_accuracy), None)
        self.end()

    def end(self):
        """Move off the rewritten line, so what follows starts on a line of its own."""
        if self.tty and self.shown is not None:
            print(flush=True)
            self.shown = None

    def _show(self, epoch, loss, val_loss, acc, val_acc, left):
        fields = [f"{self.unit} {epoch:>{self.width}}", f"loss {loss:.6g}"]
        if val_loss is not None:
            fields.append(f"val_loss {val_loss:.6g}")
        if acc is not None:
            fields.append(f"accuracy {acc:.3f}")
        if val_acc is not None:
            fields.append(f"val_accuracy {val_acc:.3f}")
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


def accuracy(net, X, Y):
    """The fraction of ``Y`` (as ``loss_fn.targets`` gives it) that ``net`` gets right.

    Counted as ``fit`` counts it for ``history.accuracy``: by the loss's own
    ``correct`` (each row's class for cross-entropy, each output's 0/1 answer
    for binary cross-entropy).
    """
    loss_fn = net.loss_fn
    return float(loss_fn.correct(loss_fn.truth(Y), net.predict(X))) / loss_fn.count(Y)
