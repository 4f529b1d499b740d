"""The forward and backward passes, over preallocated buffers.

This is the lesson's backpropagation with every scalar chain turned into a
matrix product. For layer ``l`` (1-based, ``A0 = X``):

    forward    Z_l = A_{l-1} @ W_l.T + b_l          A_l = f(Z_l)
    output     delta_L = f'(Z_L) * dL/dA_L            (fused pairs: (A_L - Y) / count)
    hidden     delta_l = (delta_{l+1} @ W_{l+1}) * f'(Z_l)
    gradients  dW_l = delta_l.T @ A_{l-1}           db_l = delta_l summed over rows

``delta_l = dL/dZ_l`` holds, for every sample at once, what the lesson writes
as ``d_L_d_ypred * deriv_sigmoid(sum_o1)`` (output layer) or
``d_L_d_ypred * d_ypred_d_h1 * ...`` chains (hidden layers). Summing the rows
in ``dW_l`` adds up the per-sample gradients; the ``1 / count`` inside
``dL/dA_L`` turns that sum into the batch mean. For softmax, ``f'(Z) * G``
is its Jacobian-vector product.

The same passes run one network or an :class:`~matnn.Ensemble` of many: a
:class:`Products` object says how the three products are taken. For a
network, arrays are (rows, units) and the products are plain ``np.dot``; for
an ensemble every array gains a trailing member axis, (rows, units,
members), and :class:`StackedProducts` multiplies member by member.
Activations and losses are elementwise or work along axis 1 (the units), so
they run unchanged on both.

Nothing is stored on layers: the caller owns a :class:`Workspace`, so two
threads with two workspaces never share state.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence, TypeVar, cast, overload

import numpy as np

from ._typing import DTypeLike, FloatArray, NDArray, Total
from .threads import run_tasks

if TYPE_CHECKING:
    from .activations import Activation
    from .losses import Loss

T = TypeVar("T")
S = TypeVar("S")

#: Each layer's ``(W, b)`` (or ``(dW, db)``): views into one flat buffer.
Grads = list[tuple[FloatArray, FloatArray]]

# Looked up once: these run a few times per layer per step, and at batch
# size 1 the time of a step is mostly call overhead.
add, dot, multiply, subtract = np.add, np.dot, np.multiply, np.subtract

__all__ = [
    "BLOCK_ACTIVATIONS",
    "BLOCK_ROWS",
    "Engine",
    "Products",
    "StackedProducts",
    "Workspace",
    "block_rows",
    "forward",
    "backward",
    "gradient",
    "loss_total",
    "outputs",
]

#: Large batches are processed in blocks of at most this many rows (member-
#: rows for an ensemble) and :data:`BLOCK_ACTIVATIONS` activations, so a
#: block's buffers stay in cache and memory does not grow with the batch,
#: and the blocks of a batch run on several threads (:mod:`matnn.threads`).
#: A batch of one block runs on the calling thread. Blocks this large keep
#: Python's share of a block's work small enough for two threads to pay;
#: benchmarks/case_gradient.py and case_threads.py measure the choice.
BLOCK_ROWS = 16384

#: A wide network's blocks are bounded by their activations instead (rows
#: times units of every layer, times members): 2 MiB per buffer in float64.
BLOCK_ACTIVATIONS = 1 << 18


class Products:
    """How a single network multiplies: arrays are (rows, units).

    Parameters are viewed as ``W`` of shape (n_out, n_in), ``b`` (n_out,).
    """

    members: int | None = None

    def views(self, flat: FloatArray, sizes: Sequence[int]) -> Grads:
        """Views ``[(W_1, b_1), ...]`` into a flat parameter vector (n_params,).

        Each layer occupies ``W`` (row-major, ``n_out * n_in`` entries) then ``b``.
        """
        views, start = [], 0
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            stop = start + n_out * n_in
            views.append((flat[start:stop].reshape(n_out, n_in), flat[stop:stop + n_out]))
            start = stop + n_out
        return views

    def flat(self, sizes: Sequence[int], dtype: DTypeLike) -> tuple[FloatArray, Grads]:
        """A new flat buffer and its views."""
        flat = np.empty(n_params(sizes), dtype)
        return flat, self.views(flat, sizes)

    # np.dot with a positional ``out`` costs about half of np.matmul's call
    # overhead on tiny arrays, and calls the same BLAS on large ones.
    def affine(
        self, l: int, prev: FloatArray, W: FloatArray, b: FloatArray, out: FloatArray, ws: Workspace
    ) -> None:
        dot(prev, W.T, out)
        if ws.columnwise[l]:
            # numpy would run one inner loop per row of a few units; this runs
            # one per unit, along the rows. Same sums, same bits.
            add(out.T, b[:, None], out.T, order="C")
        else:
            add(out, b, out)

    def weight_gradients(
        self, l: int, D: FloatArray, prev: FloatArray, dW: FloatArray, db: FloatArray, ws: Workspace
    ) -> None:
        dot(D.T, prev, dW)
        # ones @ D sums the rows in one BLAS call, several times faster than
        # D.sum(axis=0) on narrow layers.
        dot(ws.ones, D, db)

    def back(self, l: int, D: FloatArray, W: FloatArray, out: FloatArray, ws: Workspace) -> None:
        dot(D, W, out)


#: Layers of at most this many units add their bias one unit at a time,
#: along the rows, in blocks of at least :data:`COLUMNWISE_ROWS` rows;
#: benchmarks/case_lowerbound.py measures it.
COLUMNWISE_UNITS, COLUMNWISE_ROWS = 3, 256


#: A stacked product whose summed dimension is at most this long is computed
#: as that many broadcast multiply-adds over the (contiguous) member axis;
#: longer ones go to ``np.matmul`` over the members. The choice depends only
#: on the architecture and the batch, never on the number of members, so a
#: member takes the same code path whoever shares its ensemble;
#: benchmarks/case_ensemble.py measures it.
UNROLL_MAX = 4


class StackedProducts(Products):
    """How an ensemble multiplies: arrays are (rows, units, members).

    All members' parameters live in one flat buffer of shape (n_params,
    members), member axis last (contiguous), so every elementwise step runs
    over all members in one vectorised loop. Each layer stores its weights
    *transposed*, ``WT`` of shape (n_in, n_out, members) with ``WT[j, i, k]``
    member ``k``'s ``W[i, j]``, then ``b`` of shape (n_out, members); the
    first layer, whose input every member shares, is then one 2-D product
    ``X @ WT.reshape(n_in, n_out * members)``.
    """

    members: int

    def __init__(self, members: int) -> None:
        self.members = members

    def views(self, flat: FloatArray, sizes: Sequence[int]) -> Grads:
        K, views, start = flat.shape[1], [], 0
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            stop = start + n_in * n_out
            views.append((flat[start:stop].reshape(n_in, n_out, K), flat[stop:stop + n_out]))
            start = stop + n_out
        return views

    def flat(self, sizes: Sequence[int], dtype: DTypeLike) -> tuple[FloatArray, Grads]:
        flat = np.empty((n_params(sizes), self.members), dtype)
        return flat, self.views(flat, sizes)

    def affine(
        self,
        l: int,
        prev: FloatArray,
        WT: FloatArray,
        b: FloatArray,
        out: FloatArray,
        ws: Workspace,
    ) -> None:
        n_in, n_out, K = WT.shape
        rows = prev.shape[0]
        if l == 0:
            np.matmul(prev, WT.reshape(n_in, n_out * K), out=out.reshape(rows, n_out * K))
        elif n_in <= UNROLL_MAX:
            _sum_of_products(((prev[:, j, None, :], WT[j]) for j in range(n_in)), out, ws.T[l])
        else:
            np.matmul(_members_first(prev), WT.transpose(2, 0, 1), out=_members_first(out))
        add(out, b, out)

    def weight_gradients(
        self,
        l: int,
        D: FloatArray,
        prev: FloatArray,
        dWT: FloatArray,
        db: FloatArray,
        ws: Workspace,
    ) -> None:
        # dWT[j, i] = sum over rows of prev[:, j] * D[:, i]
        n_in, n_out, K = dWT.shape
        rows = D.shape[0]
        if rows <= UNROLL_MAX:
            prev3 = prev[:, :, None] if l == 0 else prev
            # A stacked engine's workspaces have S.
            _sum_of_products(((prev3[r, :, None, :], D[r, None]) for r in range(rows)),
                             dWT, ws.S[l])  # type: ignore[index]
        elif l == 0:
            np.matmul(prev.T, D.reshape(rows, n_out * K), out=dWT.reshape(n_in, n_out * K))
        else:
            np.matmul(prev.transpose(2, 1, 0), _members_first(D), out=dWT.transpose(2, 0, 1))
        np.sum(D, axis=0, out=db)

    def back(self, l: int, D: FloatArray, WT: FloatArray, out: FloatArray, ws: Workspace) -> None:
        n_out = WT.shape[1]
        if n_out <= UNROLL_MAX:
            # T[l - 1] is free: f'(Z[l - 1]) is written into it only afterwards.
            _sum_of_products(((D[:, i, None, :], WT[:, i]) for i in range(n_out)),
                             out, ws.T[l - 1])
        else:
            np.matmul(_members_first(D), WT.transpose(2, 1, 0), out=_members_first(out))


def _members_first(a: FloatArray) -> FloatArray:
    """View of a (rows, n, members) array as (members, rows, n)."""
    return a.transpose(2, 0, 1)


def _sum_of_products(
    pairs: Iterable[tuple[FloatArray, FloatArray]], out: FloatArray, scratch: FloatArray
) -> FloatArray:
    """``out = sum of a * b`` over ``pairs``, added left to right."""
    pairs = iter(pairs)
    a, b = next(pairs)
    multiply(a, b, out)
    for a, b in pairs:
        multiply(a, b, scratch)
        add(out, scratch, out)
    return out


def n_params(sizes: Sequence[int]) -> int:
    """The number of parameters of a network of layer widths ``sizes``."""
    return sum(o * i + o for i, o in zip(sizes[:-1], sizes[1:]))


class Engine:
    """What the passes need of a network: its layers, its loss, how it multiplies.

    Parameters
    ----------
    flat : ndarray of shape (n_params,), or (n_params, members) when stacked
    sizes : tuple of int
    activations : sequence of Activation, one per layer
    loss : Loss
    products : Products
    """

    def __init__(
        self,
        flat: FloatArray,
        sizes: tuple[int, ...],
        activations: Sequence[Activation],
        loss: Loss,
        products: Products,
    ) -> None:
        self.sizes = sizes
        self.activations = tuple(activations)
        self.loss = loss
        self.products = products
        self.layers = [(W, b, act) for (W, b), act in zip(products.views(flat, sizes), activations)]
        last = len(self.layers) - 1
        self.fused = loss.fuses(activations[last])
        # Z is kept where a derivative is taken from it, and for a fused
        # output, whose loss is computed from the logits.
        self.keep_z = tuple(act.needs_input or (l == last and self.fused)
                            for l, act in enumerate(activations))

    def workspace(self, rows: int, dtype: DTypeLike) -> Workspace:
        return Workspace(self, rows, dtype)


class Workspace:
    """Buffers for one forward and backward pass over up to ``rows`` samples.

    Attributes
    ----------
    A : list of ndarray, A[l] of shape (rows, sizes[l + 1]) (plus a trailing
        member axis for an ensemble)
        Activations of layer ``l + 1``.
    Z : list of ndarray or None, shaped like ``A``
        Pre-activations, kept only where the engine needs them; elsewhere
        ``Z`` is computed in ``A`` and overwritten by ``f(Z)``.
    V : list of ndarray
        Where each layer's derivative is taken from: ``Z[l]`` or ``A[l]``.
    D : list of ndarray, shaped like ``A``
        Deltas ``dL/dZ`` of each layer.
    T : list of ndarray, shaped like ``A``
        Scratch for ``f'``.
    ones : ndarray of shape (rows,)
    S : list of ndarray (ensembles only)
        Scratch shaped like each layer's stacked weights.
    columnwise : list of bool
        Whether each layer adds its bias one unit at a time (narrow layers,
        many rows).
    """

    A: list[FloatArray]
    Z: list[FloatArray | None]
    V: list[FloatArray]
    D: list[FloatArray]
    T: list[FloatArray]
    S: list[FloatArray] | None
    ones: FloatArray
    dtype: np.dtype[Any]
    _root: Workspace
    _gradient: tuple[FloatArray, Grads] | None

    def __init__(
        self,
        engine: Engine,
        rows: int,
        dtype: DTypeLike | None,
        *,
        _parent: Workspace | None = None,
    ) -> None:
        self.rows = rows
        self._heads: dict[int, Workspace] = {}
        self._siblings: dict[int, Workspace] = {}
        self._root = self if _parent is None else _parent._root
        self._gradient = None
        if _parent is not None:
            # Leading-row slices of C-contiguous buffers stay contiguous.
            p = _parent
            self.A, self.D, self.T = ([x[:rows] for x in xs] for xs in (p.A, p.D, p.T))
            self.Z = [None if z is None else z[:rows] for z in p.Z]
            self.ones, self.S = p.ones[:rows], p.S
            self.dtype = p.dtype
        else:
            self.dtype = np.dtype(dtype)
            K = engine.products.members
            shapes = [(rows, n) if K is None else (rows, n, K) for n in engine.sizes[1:]]
            self.A = [np.empty(s, dtype) for s in shapes]
            self.D = [np.empty(s, dtype) for s in shapes]
            self.T = [np.empty(s, dtype) for s in shapes]
            self.Z = [np.empty(s, dtype) if keep else None
                      for s, keep in zip(shapes, engine.keep_z)]
            self.ones = np.ones(rows, dtype)
            self.S = None if K is None else [
                np.empty((i, o, K), dtype) for i, o in zip(engine.sizes[:-1], engine.sizes[1:])]
        # Z[l] is kept wherever the activation needs it.
        self.V = cast("list[FloatArray]", [z if act.needs_input else a
                  for z, a, act in zip(self.Z, self.A, engine.activations)])
        self.columnwise = [engine.products.members is None and n <= COLUMNWISE_UNITS
                           and rows >= COLUMNWISE_ROWS for n in engine.sizes[1:]]

    def head(self, rows: int, engine: Engine) -> Workspace:
        """A workspace for ``rows <= self.rows`` samples sharing this memory."""
        if rows == self.rows:
            return self
        ws = self._heads.get(rows)
        if ws is None:
            ws = self._heads[rows] = Workspace(engine, rows, None, _parent=self)
        return ws

    def block_gradient(self, engine: Engine) -> tuple[FloatArray, Grads]:
        """A flat gradient buffer and its ``(dW, db)`` views, kept here, for one block's part.

        Made on first use and shared with this workspace's heads, so that
        a training run's threads reuse theirs from call to call.
        """
        root = self._root
        if root._gradient is None:
            root._gradient = engine.products.flat(engine.sizes, self.dtype)
        return root._gradient

    def sibling(self, j: int, engine: Engine) -> Workspace:
        """Thread ``j``'s workspace of this size: this one for ``j == 0``, else one kept here.

        Each thread of a parallel region works in its own buffers; keeping
        them here lets a training run reuse them from step to step.
        """
        if j == 0:
            return self
        ws = self._siblings.get(j)
        if ws is None:
            ws = self._siblings[j] = Workspace(engine, self.rows, self.dtype)
        return ws


def block_rows(n: int, sizes: Sequence[int], members: int | None = None) -> int:
    """Rows per block of an ``n``-row batch, for layer widths ``sizes`` and ``members``.

    At most :data:`BLOCK_ROWS` member-rows and :data:`BLOCK_ACTIVATIONS`
    activations; the same for a member whatever group of an ensemble runs it.
    A batch of several blocks is cut into an even number of blocks of nearly
    equal rows, so that two threads finish together (seven blocks, the last
    a short one, would keep one thread busy for four while the other idles
    after three).
    """
    members = members or 1
    per_row = sum(sizes[1:]) * members
    most = max(1, min(BLOCK_ROWS // members, BLOCK_ACTIVATIONS // per_row))
    if n <= most:
        return max(n, 1)
    blocks = -(-n // most)
    return -(-n // (blocks + blocks % 2))


def forward(engine: Engine, X: FloatArray, ws: Workspace, output: bool = True) -> FloatArray:
    """Run the forward pass of ``X`` into ``ws.A`` (and ``ws.Z`` where kept).

    Parameters
    ----------
    engine : Engine
    X : ndarray of shape (ws.rows, sizes[0])
    ws : Workspace
    output : bool
        False stops at the output layer's logits, for a fused loss, which
        computes its value (and the outputs, if wanted) from them.

    Returns
    -------
    ndarray of shape (ws.rows, sizes[-1]) (plus the member axis)
        The output activations (``ws.A[-1]``), or without ``output`` the
        logits (``ws.Z[-1]``); not a copy.
    """
    affine = engine.products.affine
    prev = X
    for l, ((W, b, act), A, Z) in enumerate(zip(engine.layers, ws.A, ws.Z)):
        if Z is None:
            affine(l, prev, W, b, A, ws)
            act.forward_into(A, A)
        else:
            affine(l, prev, W, b, Z, ws)
            if not output and l == len(ws.A) - 1:
                return Z
            act.forward_into(Z, A)
        prev = A
    return prev


def backward(
    engine: Engine,
    X: FloatArray,
    Y: FloatArray,
    count: int,
    ws: Workspace,
    grads: Sequence[tuple[FloatArray, FloatArray]],
    down_to: int = 0,
) -> None:
    """Backpropagate the loss from ``ws`` (filled by :func:`forward`).

    Parameters
    ----------
    engine : Engine
    X : ndarray of shape (ws.rows, sizes[0])
    Y : ndarray of shape (ws.rows, sizes[-1]) (an ensemble's: (ws.rows, sizes[-1], 1))
    count : int
        What the loss's mean divides by over the *whole* batch (rows, or
        entries for the elementwise losses), which is larger than this
        block's when the batch is done in blocks.
    ws : Workspace
    grads : sequence of (dW, db)
        Overwritten with this block's contribution to the gradient.
    down_to : int
        The lowest layer (0-based) whose ``(dW, db)`` are computed; the
        layers below it are left alone (``len(sizes) - 2``: the output
        layer's alone).
    """
    products = engine.products
    last = len(engine.layers) - 1
    D = ws.D[last]
    if engine.fused:
        subtract(ws.A[last], Y, D)
        multiply(D, 1 / count, D)
    else:
        engine.loss.gradient_into(Y, ws.A[last], count, D)
    for l in range(last, down_to - 1, -1):
        W, _, act = engine.layers[l]
        D = ws.D[l]
        if l < last or not engine.fused:
            if act.elementwise:
                multiply(D, act.derivative_into(ws.V[l], ws.T[l]), D)
            else:
                # Only a row-wise activation (softmax) is not elementwise.
                act.backward_into(ws.A[l], D, ws.T[l])  # type: ignore[attr-defined]
        dW, db = grads[l]
        products.weight_gradients(l, D, ws.A[l - 1] if l else X, dW, db, ws)
        if l > down_to:
            products.back(l, D, W, ws.D[l - 1], ws)


def _n_blocks(n: int, rows: int) -> int:
    return -(-n // rows)


def outputs(engine: Engine, X: FloatArray, ws: Workspace, out: FloatArray) -> FloatArray:
    """The outputs of ``X``, written into ``out``, in blocks of ``ws.rows`` rows.

    Parameters
    ----------
    engine : Engine
    X : ndarray of shape (n_samples, sizes[0])
    ws : Workspace
    out : ndarray of shape (n_samples, sizes[-1]) (plus the member axis)
        May be a view (an ensemble's (members, n_samples, n_out) output,
        transposed).
    """
    rows = ws.rows

    def block(w: Workspace, i: int) -> None:
        Xb = X[i * rows:(i + 1) * rows]
        out[i * rows:(i + 1) * rows] = forward(engine, Xb, w.head(Xb.shape[0], engine))

    _over_blocks(engine, X.shape[0], ws, block)
    return out


def loss_total(
    engine: Engine,
    X: FloatArray,
    Y: FloatArray,
    ws: Workspace,
    truth: NDArray[Any] | None = None,
    output_grads: Sequence[tuple[FloatArray, FloatArray]] | None = None,
) -> Any:
    """The loss's sum over ``X`` (divide by ``engine.loss.count(Y)`` for the mean).

    Computed in blocks of ``ws.rows`` rows, added in block order; one total
    per member for an ensemble. Given ``truth``, ``engine.loss.truth(Y)``
    of a classifying loss, the same forward pass also counts the right
    predictions: returns ``(total, correct)``.

    Given ``output_grads``, the ``(dW, db)`` views of a flat gradient
    (:meth:`Products.flat`), the same forward pass also writes the output
    layer's ``(dW, db)`` of the mean loss there: what :func:`gradient` over
    the same ``ws`` computes for that layer, bit for bit. The other
    layers' views are left alone.
    """
    loss, rows, n = engine.loss, ws.rows, X.shape[0]
    count_correct = truth is not None
    last = len(engine.layers) - 1
    several = _n_blocks(n, rows) > 1
    if output_grads is not None:
        count = loss.count(Y)
        if several:
            for g in output_grads[last]:
                g.fill(0)

    def block(w: Workspace, i: int) -> tuple[Total, Any, Workspace]:
        Xb, Yb = X[i * rows:(i + 1) * rows], Y[i * rows:(i + 1) * rows]
        w = w.head(Xb.shape[0], engine)
        if engine.fused:
            # The loss from the logits; the outputs to count the right ones
            # and for the output layer's delta.
            out = w.A[-1] if count_correct or output_grads is not None else None
            total = loss.fused_total(Yb, forward(engine, Xb, w, output=False), w.D[-1], out)
        else:
            out = forward(engine, Xb, w)
            total = loss.total(Yb, out, w.D[-1])
        if output_grads is not None:
            grads = w.block_gradient(engine)[1] if several else output_grads
            backward(engine, Xb, Yb, count, w, grads, down_to=last)
        correct = (
            # out holds the outputs whenever truth is given.
            loss.correct(truth[i * rows:(i + 1) * rows], out)  # type: ignore[index, arg-type]
            if count_correct else 0
        )
        return total, correct, w

    def combine(sums: tuple[Any, Any], value: tuple[Total, Any, Workspace]) -> tuple[Any, Any]:
        total, correct, w = value
        if output_grads is not None and several:
            for g, block_g in zip(output_grads[last], w.block_gradient(engine)[1][last]):
                add(g, block_g, g)
        return sums[0] + total, sums[1] + correct

    total, correct = _over_blocks(engine, n, ws, block, (0.0, 0), combine)
    return (total, correct) if count_correct else total


@overload
def _over_blocks(
    engine: Engine, n: int, ws: Workspace, block: Callable[[Workspace, int], Any]
) -> None: ...
@overload
def _over_blocks(
    engine: Engine,
    n: int,
    ws: Workspace,
    block: Callable[[Workspace, int], T],
    total: S,
    add: Callable[[S, T], S] = ...,
) -> S: ...
def _over_blocks(
    engine: Engine,
    n: int,
    ws: Workspace,
    block: Callable[[Workspace, int], T],
    total: S | None = None,
    add: Callable[[S, T], S] = operator.add,
) -> S | None:
    """Run ``block(workspace, i)`` for every block of ``ws.rows`` of ``n`` rows.

    One block runs here; more are spread over the threads, each in its own
    workspace. With a ``total``, the blocks' values are added to it with
    ``add``, in block order, and the sum is returned.
    """
    n_blocks = _n_blocks(n, ws.rows)
    if n_blocks == 1:
        value = block(ws, 0)
        return None if total is None else add(total, value)
    sums: list[Any] = [total]

    def accumulate(i: int, value: T) -> None:
        sums[0] = add(sums[0], value)

    run_tasks(n_blocks, block, None if total is None else accumulate,
              lambda j: ws.sibling(j, engine))
    return sums[0]


def gradient(
    engine: Engine,
    X: FloatArray,
    Y: FloatArray,
    ws: Workspace,
    flat: FloatArray,
    grads: Sequence[tuple[FloatArray, FloatArray]],
) -> FloatArray:
    """The gradient of the batch's mean loss, written into ``flat`` (and its views ``grads``).

    Batches larger than ``ws.rows`` are processed in blocks, spread over the
    threads, each thread into its own block gradient; those are added up in
    block order, so the sum is the same on any number of threads, and
    memory stays flat in the number of samples.
    """
    count = engine.loss.count(Y)
    n, rows = X.shape[0], ws.rows
    if n <= rows:
        w = ws.head(n, engine)
        forward(engine, X, w)
        backward(engine, X, Y, count, w, grads)
        return flat
    flat.fill(0)

    def block(w: Workspace, i: int) -> FloatArray:
        block_flat, block_grads = w.block_gradient(engine)
        Xb, Yb = X[i * rows:(i + 1) * rows], Y[i * rows:(i + 1) * rows]
        w = w.head(Xb.shape[0], engine)
        forward(engine, Xb, w)
        backward(engine, Xb, Yb, count, w, block_grads)
        return block_flat

    def accumulate(i: int, block_flat: FloatArray) -> None:
        add(flat, block_flat, flat)

    run_tasks(_n_blocks(n, rows), block, accumulate, lambda j: ws.sibling(j, engine))
    return flat
