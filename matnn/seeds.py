"""The seeds study: how often does the document's training work?

The document draws its nine starting numbers with ``np.random.normal()`` and
trains once. Here the same session (its four people, per-sample SGD in
dataset order) is run from many seeds, and from several learning rates, as
one :class:`~matnn.Ensemble`. Run ``s`` starts exactly where the document's
code starts after ``np.random.seed(s)``, so any run can be reproduced with
``matnn demo --seed s``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable, NamedTuple

import numpy as np

from . import cluster, data, scalar
from ._typing import ArrayLike, NDArray
from .ensemble import Ensemble
from .validation import check_int, check_positive

if TYPE_CHECKING:
    from distributed import Client

    from .network import Network

__all__ = ["CONVERGED", "MIN_CHUNK_WORK", "SeedRuns", "document_networks", "run_bytes", "train_seeds"]

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
    def correct(self) -> NDArray[np.bool_]:
        """ndarray of bool, shape (n_runs,): Emily classified F (> 0.5) and Frank M (< 0.5)."""
        return (self.predictions[:, 0] > 0.5) & (self.predictions[:, 1] < 0.5)

    @property
    def split(self) -> NDArray[np.bool_]:
        """ndarray of bool, shape (n_runs,): w5 and w6 of opposite signs.

        Then the hidden neurons have split the work, one firing for the
        women and the other for the men; otherwise both learned the same
        feature. Trained with the document's settings, split runs end with
        about two thirds the final loss of the others: the two peaks of the
        final-loss distribution.
        """
        return self.output_weights[:, 0] * self.output_weights[:, 1] < 0

    def epochs_to(self, threshold: float = CONVERGED) -> NDArray[np.intp]:
        """Epochs each run needed before its loss first fell below ``threshold``.

        Returns
        -------
        ndarray of int, shape (n_runs,)
            ``e`` when the loss after ``e`` epochs was the first below
            ``threshold``; -1 for runs that never got there.
        """
        below = self.history < threshold
        return np.where(below.any(axis=1), below.argmax(axis=1) + 1, -1)

    def slowest(self, count: int, threshold: float = CONVERGED) -> NDArray[np.intp]:
        """Indices of the ``count`` slowest-converging runs, slowest first.

        Runs that never reach ``threshold`` come first, highest final loss
        first; then the others by the epochs they needed, most first.
        """
        epochs = self.epochs_to(threshold)
        never = epochs < 0
        key_never = np.where(never, self.final_loss, -np.inf)
        order = np.lexsort((-epochs, -key_never, ~never))
        return order[:count]


def document_networks(seeds: Iterable[int]) -> list[Network]:
    """The document's starting network for every seed, in matrix form.

    Network ``i`` holds the nine numbers the document's code draws after
    ``np.random.seed(seeds[i])``: nine ``np.random.normal()`` draws in the
    order of :data:`matnn.scalar.PARAM_NAMES`, as
    :class:`matnn.scalar.OurNeuralNetwork` makes them. Each call draws them
    from its own ``np.random.RandomState``, the legacy generator behind
    ``np.random.seed``, reseeded for every seed (reseeding is much cheaper
    than making a generator), so the numbers are the document's and numpy's
    global random state is neither used nor changed: threads may call this
    at the same time.

    Returns
    -------
    list of Network, one per seed
    """
    n = len(scalar.PARAM_NAMES)
    rng = np.random.RandomState()

    def drawn(s: int) -> NDArray[np.float64]:
        rng.seed(s)
        return rng.normal(size=n)

    return [
        scalar.to_network(scalar.OurNeuralNetwork(**dict(zip(scalar.PARAM_NAMES, drawn(s)))))
        for s in seeds
    ]


def run_bytes(epochs: int) -> int:
    """Estimated memory, in bytes, that one run of :func:`train_seeds` needs while it trains.

    Its loss history twice (as the epochs' losses are collected, then
    stacked), the rest of its results, and mostly the Python objects of its
    starting network (about 2 KB), doubled.
    """
    return _RUN_BYTES + 2 * 8 * epochs


#: Bytes of a run besides its loss history (see :func:`run_bytes`).
_RUN_BYTES = 4096

#: The fewest runs x epochs a chunk gets on a cluster, so that Dask's cost
#: per task stays a small part of its time (benchmarks/case_dask.py
#: measures both).
MIN_CHUNK_WORK = 500_000


def train_seeds(
    seeds: Iterable[int],
    learning_rates: Iterable[float] = (0.1,),
    epochs: int = 1000,
    *,
    client: Client | None = None,
    chunk_size: int | None = None,
    progress: bool = False,
) -> list[SeedRuns]:
    """Train the document's session from every seed at every learning rate.

    All ``len(seeds) * len(learning_rates)`` runs train at once, as one
    ensemble with a learning rate per member: per-sample SGD over the
    document's four people in dataset order, as the document does.

    With a Dask ``client``, the runs are cut into chunks of consecutive runs
    (learning rate by learning rate, seed by seed), each chunk trains as one
    ensemble on a worker, and the chunks come back in order
    (:mod:`matnn.cluster`). The results equal the local run's to rounding:
    a member's arithmetic may round differently in a smaller ensemble (see
    :func:`matnn.ensemble.member_groups`). A worker that dies loses nothing:
    its chunks run again on the others.

    Parameters
    ----------
    seeds : sequence of int >= 0
    learning_rates : sequence of float > 0
    epochs : int >= 1
    client : distributed.Client, optional
        Train on this Dask cluster (``pip install 'matnn[dask]'``).
    chunk_size : int >= 1, optional
        Runs per chunk on the cluster. By default a few chunks per worker
        thread, each at least :data:`MIN_CHUNK_WORK` runs x epochs; either
        way a chunk's estimated memory (:func:`run_bytes`) is checked
        against the workers' memory limits before anything is submitted.
    progress : bool
        Show a progress bar that advances as chunks finish on the cluster.

    Returns
    -------
    list of SeedRuns, one per learning rate, in the order given

    Raises
    ------
    MemoryError
        When a chunk would need too much of a worker's memory.
    ConnectionError
        When the client's scheduler has no workers.
    """
    seeds = np.array([check_int(s, f"seeds[{i}]", 0) for i, s in enumerate(seeds)], dtype=np.int64)
    if seeds.size == 0:
        raise ValueError("seeds is empty; give at least one seed")
    rates = [check_positive(lr, f"learning_rates[{i}]") for i, lr in enumerate(learning_rates)]
    if not rates:
        raise ValueError("learning_rates is empty; give at least one rate")
    epochs = check_int(epochs, "epochs", 1)
    n = len(seeds)
    run_seeds, run_rates = np.tile(seeds, len(rates)), np.repeat(rates, n)
    if client is None:
        if chunk_size is not None:
            raise ValueError("chunk_size is for runs on a Dask cluster; pass client too")
        if progress:
            raise ValueError("progress is shown as chunks finish on a Dask cluster; pass client too")
        parts = [_train_runs(run_seeds, run_rates, epochs)]
    else:
        chunks = cluster.plan_chunks(client, run_seeds.size, run_bytes(epochs),
                                     math.ceil(MIN_CHUNK_WORK / epochs), chunk_size, item="run")
        parts = cluster.map_chunks(client, _train_runs,
                                   [(run_seeds[a:b], run_rates[a:b], epochs) for a, b in chunks],
                                   progress)
    history, final_loss, predictions, failed, output_weights = (
        np.concatenate(arrays) for arrays in zip(*parts))
    return [
        SeedRuns(lr, seeds, *(a[i * n:(i + 1) * n]
                              for a in (history, final_loss, predictions, failed, output_weights)))
        for i, lr in enumerate(rates)
    ]


def _train_runs(
    seeds: ArrayLike, rates: ArrayLike, epochs: int
) -> tuple[NDArray[Any], ...]:
    """Run ``i`` trains from ``seeds[i]`` at ``rates[i]``; all as one ensemble.

    Returns
    -------
    history : ndarray of shape (n_runs, epochs)
    final_loss : ndarray of shape (n_runs,)
    predictions : ndarray of shape (n_runs, 2)
    failed : ndarray of bool, shape (n_runs,)
    output_weights : ndarray of shape (n_runs, 2)
    """
    distinct, which = np.unique(seeds, return_inverse=True)
    starts = document_networks(distinct)
    ensemble = Ensemble([starts[j] for j in which])
    history = ensemble.fit(data.X, data.y, epochs=epochs, learning_rate=rates,
                           batch_size=1, shuffle=False).loss
    queries = np.array([x for _, x, _ in data.QUERIES])
    return (history, ensemble.loss(data.X, data.y), ensemble.predict(queries)[:, :, 0],
            ensemble.failed.copy(), ensemble.layers[1].W[:, 0, :].copy())
