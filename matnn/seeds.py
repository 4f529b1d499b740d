"""The seeds study: how often does the document's training work?

The document draws its nine starting numbers with ``np.random.normal()`` and
trains once. Here the same session (its four people, per-sample SGD in
dataset order) is run from many seeds, and from several learning rates, as
one :class:`~matnn.Ensemble`. Run ``s`` starts exactly where the document's
code starts after ``np.random.seed(s)``, so any run can be reproduced with
``matnn demo --seed s``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import data, scalar
from .ensemble import Ensemble
from .validation import check_int, check_positive

__all__ = ["CONVERGED", "SeedRuns", "document_networks", "train_seeds"]

#: A run counts as converged from the first epoch after which its loss is
#: below this. With learning rate 0.1 every seed gets there within 1000
#: epochs, at 0.01 almost none do: it separates fast runs from slow ones.
CONVERGED = 0.01


class SeedRuns(NamedTuple):
    """The document's session trained from many seeds at one learning rate.

    Attributes
    ----------
    learning_rate : float
    seeds : ndarray of int, shape (n_runs,)
    history : ndarray of shape (n_runs, epochs)
        Each run's loss after every epoch (NaN after a run diverged).
    final_loss : ndarray of shape (n_runs,)
        Each run's loss with its final parameters.
    predictions : ndarray of shape (n_runs, 2)
        Each trained run's output for Emily (column 0) and Frank (column 1).
    failed : ndarray of bool, shape (n_runs,)
        Runs that diverged; they keep their last finite parameters.
    output_weights : ndarray of shape (n_runs, 2)
        Each trained run's ``w5`` and ``w6`` (``W2[0]``): how o1 weighs h1
        and h2.
    """

    learning_rate: float
    seeds: np.ndarray
    history: np.ndarray
    final_loss: np.ndarray
    predictions: np.ndarray
    failed: np.ndarray
    output_weights: np.ndarray

    @property
    def correct(self):
        """ndarray of bool, shape (n_runs,): Emily classified F (> 0.5) and Frank M (< 0.5)."""
        return (self.predictions[:, 0] > 0.5) & (self.predictions[:, 1] < 0.5)

    @property
    def split(self):
        """ndarray of bool, shape (n_runs,): w5 and w6 of opposite signs.

        Then the hidden neurons have split the work, one firing for the
        women and the other for the men; otherwise both learned the same
        feature. Trained with the document's settings, split runs end with
        about two thirds the final loss of the others: the two peaks of the
        final-loss distribution.
        """
        return self.output_weights[:, 0] * self.output_weights[:, 1] < 0

    def epochs_to(self, threshold=CONVERGED):
        """Epochs each run needed before its loss first fell below ``threshold``.

        Returns
        -------
        ndarray of int, shape (n_runs,)
            ``e`` when the loss after ``e`` epochs was the first below
            ``threshold``; -1 for runs that never got there.
        """
        below = self.history < threshold
        return np.where(below.any(axis=1), below.argmax(axis=1) + 1, -1)

    def slowest(self, count, threshold=CONVERGED):
        """Indices of the ``count`` slowest-converging runs, slowest first.

        Runs that never reach ``threshold`` come first, highest final loss
        first; then the others by the epochs they needed, most first.
        """
        epochs = self.epochs_to(threshold)
        never = epochs < 0
        key_never = np.where(never, self.final_loss, -np.inf)
        order = np.lexsort((-epochs, -key_never, ~never))
        return order[:count]


def document_networks(seeds):
    """The document's starting network for every seed, in matrix form.

    Network ``i`` holds the nine numbers the document's code draws after
    ``np.random.seed(seeds[i])``: nine ``np.random.normal()`` draws in the
    order of :data:`matnn.scalar.PARAM_NAMES`, as
    :class:`matnn.scalar.OurNeuralNetwork` makes them. Each seed gets its own
    ``np.random.RandomState``, the legacy generator behind ``np.random.seed``,
    so the numbers are the document's and numpy's global random state is
    neither used nor changed: threads may call this at the same time.

    Returns
    -------
    list of Network, one per seed
    """
    n = len(scalar.PARAM_NAMES)
    return [
        scalar.to_network(scalar.OurNeuralNetwork(
            **dict(zip(scalar.PARAM_NAMES, np.random.RandomState(s).normal(size=n)))))
        for s in seeds
    ]


def train_seeds(seeds, learning_rates=(0.1,), epochs=1000):
    """Train the document's session from every seed at every learning rate.

    All ``len(seeds) * len(learning_rates)`` runs train at once, as one
    ensemble with a learning rate per member: per-sample SGD over the
    document's four people in dataset order, as the document does.

    Parameters
    ----------
    seeds : sequence of int >= 0
    learning_rates : sequence of float > 0
    epochs : int >= 1

    Returns
    -------
    list of SeedRuns, one per learning rate, in the order given
    """
    seeds = np.array([check_int(s, f"seeds[{i}]", 0) for i, s in enumerate(seeds)], dtype=np.int64)
    if seeds.size == 0:
        raise ValueError("seeds is empty; give at least one seed")
    rates = [check_positive(lr, f"learning_rates[{i}]") for i, lr in enumerate(learning_rates)]
    if not rates:
        raise ValueError("learning_rates is empty; give at least one rate")
    epochs = check_int(epochs, "epochs", 1)
    starts = document_networks(seeds)
    ensemble = Ensemble(starts * len(rates))
    history = ensemble.fit(data.X, data.y, epochs=epochs,
                           learning_rate=np.repeat(rates, len(seeds)),
                           batch_size=1, shuffle=False).loss
    queries = np.array([x for _, x, _ in data.QUERIES])
    predictions = ensemble.predict(queries)[:, :, 0]
    final_loss = ensemble.loss(data.X, data.y)
    output_weights = ensemble.layers[1].W[:, 0, :].copy()
    n = len(seeds)
    return [
        SeedRuns(lr, seeds, *(a[i * n:(i + 1) * n] for a in (history, final_loss, predictions)),
                 ensemble.failed[i * n:(i + 1) * n].copy(), output_weights[i * n:(i + 1) * n])
        for i, lr in enumerate(rates)
    ]
