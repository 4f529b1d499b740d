"""Many networks of one architecture, trained at once.

The lesson trains with one sample per step, which leaves nothing to
vectorise over samples. Questions about many *runs* ("how often does a
random start work?", "which learning rate is best?") are different: the runs
are independent, so K networks of one architecture can be stacked and
stepped together. Layer ``l`` of member ``k`` is ``W[k]`` of shape
(n_out, n_in) and ``b[k]`` of shape (n_out,).

An ensemble runs on the same passes, activations, losses and training loop
as :class:`~matnn.Network`; only the products differ
(:class:`~matnn.backprop.StackedProducts`: every array gains a trailing
member axis). So a member of a trained ensemble equals that network trained
alone, to rounding (a product may be summed in another order than BLAS sums
it).

Members never mix: a member whose parameters or loss overflow is frozen at
its last finite parameters and reported, and the others train on.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from .backprop import (
    Engine,
    StackedProducts,
    block_rows,
    gradient,
    loss_total,
    n_params,
    outputs,
)
from .ensemble_run import _EnsembleRun, _GroupedRun
from .layers import Dense
from .model import Model
from .network import Network, _labels_of
from .threads import blas_on_one_thread, run_tasks
from .training import fit
from .validation import check_features, check_int, check_seed
from ._typing import ArrayLike, DTypeLike, EpochCallback, FloatArray, NDArray, SeedLike
from .activations import ActivationArg
from .losses import Loss

if TYPE_CHECKING:
    from typing_extensions import Self

    from .backprop import Workspace
    from .history import History
    from .optimizer_base import Optimizer, StepOptimizer

__all__ = ["Ensemble", "StackedLayer", "member_groups"]

#: An ensemble is split into groups of at least this many consecutive
#: members ...
GROUP_MEMBERS = 64
#: ... and at most this many groups, which the threads share ...
MAX_GROUPS = 8
#: ... when a call's work, members x rows (a fit's: members x training
#: rows), is at least this much. None of these depends on the number of
#: threads; benchmarks/case_threads.py measures them.
GROUP_WORK = 4096


def splits(members: int, rows: int) -> bool:
    """Whether work on ``members`` members and ``rows`` rows runs in groups of members."""
    return members >= 2 * GROUP_MEMBERS and members * rows >= GROUP_WORK


def member_groups(members: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]``: the groups of ``members`` consecutive members.

    ``min(MAX_GROUPS, members // GROUP_MEMBERS)`` groups (at least one), as
    even as can be. They depend on the number of members only, never on the
    number of threads: a member's arithmetic does depend on its group,
    because BLAS rounds a column of a matrix product differently depending
    on how many columns the product has (its kernels treat the last,
    narrower tiles differently), and the first layer's product has one
    column per member and unit. With fixed groups, one thread or many
    compute the same groups, so the same bits.
    """
    if members == 0:
        return []
    n = max(1, min(MAX_GROUPS, members // GROUP_MEMBERS))
    bounds = [members * g // n for g in range(n + 1)]
    return list(zip(bounds[:-1], bounds[1:]))



class StackedLayer(NamedTuple):
    """One layer of every member.

    Attributes
    ----------
    W : ndarray of shape (n_models, n_out, n_in)
        ``W[k]`` is member ``k``'s weight matrix; a view into the
        ensemble's parameters, so writing into it changes the member.
    b : ndarray of shape (n_models, n_out)
        ``b[k]`` is member ``k``'s bias vector; a view as well.
    activation : Activation
    """

    W: np.ndarray
    b: np.ndarray
    activation: object


class Ensemble(Model):
    """K networks of identical architecture, stored and trained as one.

    Parameters
    ----------
    networks : sequence of Network
        At least one; all with the same ``sizes``, activations, loss and
        dtype. Their parameters are copied, so the networks you pass stay as
        they are.

    Attributes
    ----------
    layers : tuple of StackedLayer
        Per layer, ``W`` of shape (n_models, n_out, n_in) and ``b`` of shape
        (n_models, n_out): views into the ensemble's parameters (write into
        them, do not rebind them). ``layers[0].W[k]`` is
        ``networks()[k].layers[0].W``.
    sizes : tuple of int
    activations : tuple of str
    loss_fn : Loss
        The members' loss.
    dtype : numpy dtype
    failed : ndarray of bool, shape (n_models,)
        Members that diverged in some :meth:`fit`; they are frozen at their
        last finite parameters and no longer train.
    failed_at : dict
        ``{member: (epoch, batch)}`` for every failed member, 0-based within
        the :meth:`fit` call where it diverged. ``batch`` is the batch whose
        update made a parameter NaN or inf, or None when the parameters
        stayed finite and only the end-of-epoch loss overflowed: the
        ``epoch`` and ``batch`` that :class:`~matnn.TrainingDiverged` reports
        for the same network trained alone.
    """

    def __init__(self, networks: Iterable[Network]) -> None:
        if isinstance(networks, Network):
            raise TypeError("networks must be a sequence of Network; wrap a single network in a list")
        networks = list(networks)
        if not networks:
            raise ValueError("an Ensemble needs at least one network")
        for k, net in enumerate(networks):
            if not isinstance(net, Network):
                raise TypeError(f"networks[{k}] must be a matnn.Network, got {type(net).__name__}")
        for k, net in enumerate(networks):
            overrides = net._overrides()
            if overrides:
                # The stacked passes would train the members without them.
                raise TypeError(
                    f"networks[{k}] is a {type(net).__name__} that overrides "
                    f"{' and '.join(overrides)}; an Ensemble trains with matnn's own passes, "
                    "so fit such a network on its own"
                )
        first = networks[0]
        for k, net in enumerate(networks[1:], start=1):
            for what, mine, theirs, shown in (
                ("sizes", net.sizes, first.sizes, None),
                ("activations", net._activations, first._activations,
                 (net.activations, first.activations)),
                ("loss", net.loss_fn, first.loss_fn, (net.loss_fn.name, first.loss_fn.name)),
                ("dtype", net.dtype, first.dtype, None),
            ):
                if mine != theirs:
                    # What the message shows: names, where the values are objects.
                    mine, theirs = shown or (mine, theirs)  # type: ignore[assignment]
                    raise ValueError(
                        f"networks[{k}] has {what} {mine} but networks[0] has {theirs}; every "
                        "member of an Ensemble needs the same sizes, activations, loss and dtype"
                    )
        self.sizes = first.sizes
        self.dtype = first.dtype
        self.loss_fn = first.loss_fn
        self._activations = first._activations
        self.failed = np.zeros(len(networks), bool)
        self.failed_at: dict[int, tuple[int, int | None]] = {}
        self._flat = np.empty((n_params(self.sizes), len(networks)), self.dtype)
        self._build()
        for l, layer in enumerate(self.layers):
            layer.W[...] = [net.layers[l].W for net in networks]
            layer.b[...] = [net.layers[l].b for net in networks]

    def _engine_for(self, flat: FloatArray) -> Engine:
        return Engine(flat, self.sizes, self._activations, self.loss_fn,
                      StackedProducts(flat.shape[1]))

    def _build(self) -> None:
        """Make the engine and ``layers`` views into ``_flat``."""
        self._engine = self._engine_for(self._flat)
        self.layers = tuple(
            StackedLayer(WT.transpose(2, 1, 0), b.T, act) for WT, b, act in self._engine.layers
        )

    @classmethod
    def from_sizes(
        cls,
        sizes: Sequence[int],
        n_models: int,
        activation: ActivationArg = "sigmoid",
        seed: SeedLike = None,
        dtype: DTypeLike = np.float64,
        loss: str | Loss = "mse",
    ) -> Self:
        """``n_models`` randomly initialised members.

        Member ``k`` is ``Network.from_sizes(sizes, activation, seed=rng_k,
        dtype=dtype, loss=loss)`` with ``rng_k = np.random.default_rng(children[k])``
        and ``children = np.random.SeedSequence(seed).spawn(n_models)`` (for a
        Generator seed, ``seed.spawn(n_models)``): the members get
        independent streams, and member ``k`` is the same network whatever
        ``n_models`` is.

        Parameters
        ----------
        sizes : sequence of int
            ``(n_in, n_hidden..., n_out)``.
        n_models : int >= 1
        activation : str, Activation, or a sequence of them
        seed : None, int >= 0, numpy.random.SeedSequence or numpy.random.Generator
        dtype : float32 or float64
        loss : str or Loss
        """
        n_models = check_int(n_models, "n_models", 1)
        seed = check_seed(seed)
        if isinstance(seed, np.random.Generator):
            children = seed.spawn(n_models)
        else:
            # A BitGenerator's seed sequence; numpy's stubs type it as an interface.
            if isinstance(seed, np.random.BitGenerator):
                seed = seed.seed_seq  # type: ignore[assignment]
            sequence = np.random.SeedSequence(seed)  # type: ignore[arg-type]
            children = [np.random.default_rng(c) for c in sequence.spawn(n_models)]
        return cls([
            Network.from_sizes(sizes, activation, seed=child, dtype=dtype, loss=loss)
            for child in children
        ])

    # -- description -------------------------------------------------------

    @property
    def n_models(self) -> int:
        return self._flat.shape[1]

    def __len__(self) -> int:
        return self.n_models

    def _repr_fields(self, sizes: str, activation: str) -> list[str]:
        return [f"n_models={self.n_models}", sizes, activation, f"dtype={self.dtype}",
                f"failed={int(self.failed.sum())}"]

    def network(self, k: int) -> Network:
        """Member ``k`` as an independent :class:`Network` (a copy)."""
        k = check_int(k, "k", 0)
        if k >= self.n_models:
            raise IndexError(f"member {k} does not exist; this ensemble has {self.n_models}")
        return Network([Dense(layer.W[k], layer.b[k], layer.activation) for layer in self.layers],
                       loss=self.loss_fn)

    def networks(self) -> list[Network]:
        """Every member as an independent :class:`Network` (a copy).

        Returns
        -------
        list of Network, one per member
        """
        return [self.network(k) for k in range(self.n_models)]

    # -- what users call -----------------------------------------------------

    def predict(self, X: ArrayLike) -> FloatArray:
        """Every member's outputs for one batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)

        Returns
        -------
        ndarray of shape (n_models, n_samples, n_out)
            ``[k]`` is ``self.network(k).predict(X)``.
        """
        X = check_features(X, self.n_in, self.dtype)
        out = np.empty((self.n_models, X.shape[0], self.n_out), self.dtype)

        def members(engine: Engine, ws: Workspace, a: int, b: int) -> None:
            outputs(engine, X, ws, out[a:b].transpose(1, 2, 0))

        self._in_groups(X.shape[0], members)
        return out

    def loss(self, X: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """Every member's loss on one batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)
        y : array-like, as :meth:`Network.loss` takes it

        Returns
        -------
        ndarray of shape (n_models,), float64
            ``[k]`` is ``self.network(k).loss(X, y)``.
        """
        X, Y = self._prepare(X, y)
        totals = np.empty(self.n_models, self.dtype)

        def members(engine: Engine, ws: Workspace, a: int, b: int) -> None:
            totals[a:b] = loss_total(engine, X, Y, ws)

        self._in_groups(X.shape[0], members)
        return totals.astype(np.float64) / self.loss_fn.count(Y)

    def gradients(self, X: ArrayLike, y: ArrayLike) -> list[tuple[FloatArray, FloatArray]]:
        """Gradient of every member's :meth:`loss` with respect to its parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)
        y : array-like, as :meth:`Network.loss` takes it

        Returns
        -------
        list of (ndarray of shape (n_models, n_out, n_in), ndarray of shape (n_models, n_out))
            ``(dW, db)`` per layer; ``dW[k]`` and ``db[k]`` are what
            ``self.network(k).gradients(X, y)`` returns.
        """
        X, Y = self._prepare(X, y)
        flat, grads = self._engine.products.flat(self.sizes, self.dtype)

        def members(engine: Engine, ws: Workspace, a: int, b: int) -> None:
            if b - a == self.n_models:
                gradient(engine, X, Y, ws, flat, grads)
            else:
                group_flat, group_grads = engine.products.flat(self.sizes, self.dtype)
                flat[:, a:b] = gradient(engine, X, Y, ws, group_flat, group_grads)

        self._in_groups(X.shape[0], members)
        return [(dWT.transpose(2, 1, 0), db.T) for dWT, db in grads]

    def classify(self, X: ArrayLike) -> NDArray[np.integer[Any]]:
        """Every member's class labels.

        Returns
        -------
        ndarray of int, shape (n_models, n_samples)
        """
        return _labels_of(self.predict(X))

    def accuracy(self, X: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """Every member's accuracy, counted as :meth:`Network.accuracy` counts it.

        Returns
        -------
        ndarray of shape (n_models,)
            ``[k]`` is ``self.network(k).accuracy(X, y)``.
        """
        return np.asarray(self._accuracy(X, y), np.float64)

    def _outputs(self, X: ArrayLike) -> FloatArray:
        """Every member's outputs, member axis last: (n_samples, n_out, n_models)."""
        return self.predict(X).transpose(1, 2, 0)

    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        *,
        epochs: int | None = None,
        learning_rate: float | ArrayLike | None = None,
        batch_size: int | None = None,
        optimizer: Optimizer | None = None,
        shuffle: bool = True,
        seed: SeedLike = None,
        validation_data: tuple[ArrayLike, ArrayLike] | None = None,
        patience: int | None = None,
        min_delta: float = 0.0,
        restore_best: bool = False,
        callback: EpochCallback | None = None,
        progress: bool = False,
    ) -> History:
        """Train every member on the same data order, as :meth:`Network.fit` would.

        Each member takes exactly the steps :meth:`Network.fit` takes with
        the same arguments: the same consecutive batches and, with
        ``shuffle``, the same per-epoch order, shared by all members.

        Parameters
        ----------
        X, y, epochs, batch_size, shuffle, seed :
            As :meth:`Network.fit`.
        learning_rate : float > 0, or array-like of shape (n_models,)
            One rate for every member, or one per member (plain SGD).
        optimizer : Optimizer, optional
            Its hyperparameters may be one value or one per member.
        validation_data, patience, min_delta, restore_best :
            As :meth:`Network.fit`, per member; with ``patience``, training
            stops when no member has improved for that many epochs.
        callback : callable ``EpochRecord -> None | bool``, optional
            Called after every epoch with a :class:`matnn.EpochRecord` whose
            ``loss``, ``val_loss``, ``accuracy`` and ``val_accuracy`` have
            shape (n_models,) (NaN for failed members) or are None, and whose
            ``model`` is this ensemble as of the end of that epoch. Returning
            False stops training; None or True go on; anything else (an
            array of per-member answers, say) raises TypeError.
        progress : bool
            Show a progress bar, with the members' median losses.

        Returns
        -------
        History
            ``loss`` (and ``val_loss``) of shape (n_models, epochs_run): each
            member's loss over all of ``X`` after each epoch; NaN from the
            epoch a member failed in (and for members that had failed before
            this call). See :attr:`failed` and :attr:`failed_at`.
        """
        return fit(self, X, y, epochs=epochs, learning_rate=learning_rate,
                   batch_size=batch_size, optimizer=optimizer, shuffle=shuffle, seed=seed,
                   validation_data=validation_data, patience=patience, min_delta=min_delta,
                   restore_best=restore_best, log_every=None, callback=callback,
                   progress=progress)

    # -- training (see matnn.training) -----------------------------------------

    @property
    def _members(self) -> int:
        return self.n_models

    @property
    def _buffer(self) -> FloatArray:
        return self._flat

    @contextlib.contextmanager
    def _run(
        self, optimizer: StepOptimizer, batch_size: int, n: int
    ) -> Iterator[_EnsembleRun | _GroupedRun]:
        """The run of one ``fit`` (see :class:`matnn.training.Run`).

        Many members on enough rows train in groups on the threads, under
        one BLAS limit for the whole run rather than one per epoch.
        """
        # Checked against every member's parameters before the run selects
        # the members still training from it.
        optimizer.check(self._flat)
        if not splits(int((~self.failed).sum()), n):
            yield _EnsembleRun(self, optimizer, batch_size, n)
            return
        with blas_on_one_thread():
            yield _GroupedRun(self, optimizer, batch_size, n)

    # -- internals on validated arrays ---------------------------------------

    @staticmethod
    def _member_groups(members: int) -> list[tuple[int, int]]:
        """:func:`member_groups`, for the runs (which read the module's settings here)."""
        return member_groups(members)

    def _in_groups(self, n: int, task: Callable[[Engine, Workspace, int, int], None]) -> None:
        """``task(engine, ws, a, b)`` for members ``a:b``: all at once, or per group on the threads.

        ``engine`` computes members ``a:b`` (the ensemble's own engine when
        they are all of them), ``ws`` is its workspace for blocks of an
        ``n``-row batch, sized by the whole ensemble so a member's blocks do
        not depend on its group.
        """
        K = self.n_models
        rows = block_rows(n, self.sizes, K)
        if not splits(K, n):
            task(self._engine, self._engine.workspace(rows, self.dtype), 0, K)
            return
        groups = member_groups(K)

        def run(_: object, g: int) -> None:
            a, b = groups[g]
            engine = self._engine_for(np.ascontiguousarray(self._flat[:, a:b]))
            task(engine, engine.workspace(rows, self.dtype), a, b)

        run_tasks(len(groups), run)

    def _prepare(
        self, X: ArrayLike, y: ArrayLike, name: str = "X", target_name: str = "y"
    ) -> tuple[FloatArray, FloatArray]:
        """``X``, and targets with a member axis: (n_samples, n_out, 1)."""
        X, Y = super()._prepare(X, y, name, target_name)
        return X, Y[:, :, None]
