"""Gradient checking: does a network's backward pass agree with its loss?

:func:`gradcheck` compares the *analytic* gradient, ``net.gradients(X, y)``
(backpropagation), with the *numeric* gradient, finite differences of
``net.loss(X, y)``, one parameter entry at a time, and reports where they
disagree in words and indices rather than whole matrices. It is what
``torch.autograd.gradcheck`` is to torch: the test every hand-written
backward pass should pass.

Only the network's public ``gradients``, ``loss`` and ``forward`` are called,
so when a subclass overrides ``gradients`` (a student's own backward pass) it
is that method which gets checked.
"""

from __future__ import annotations

import copy
import math
from typing import Any, NamedTuple

import numpy as np

from ._typing import ArrayLike, FloatArray, NDArray, SeedLike

# MAX_REPORTED and ROUNDING_ULPS stay importable from here, with the other settings.
from .finite_differences import ROUNDING_ULPS, LossLine, Probe
from .gradcheck_result import MAX_REPORTED, Entry, GradcheckError, GradcheckResult, ParamCheck
from .layers import Dense
from .network import Network
from .validation import check_gradients, check_int, check_positive, check_real

__all__ = [
    "gradcheck",
    "GradcheckResult",
    "GradcheckError",
    "ParamCheck",
    "Entry",
    "DEFAULT_TOLERANCES",
    "EPS_RANGE",
    "MAX_COORDS",
]

METHODS = ("central", "scipy")

#: ``(method, network dtype) -> (eps, rtol, atol)``, chosen by measurement;
#: the numbers behind them are in :func:`gradcheck`'s notes.
DEFAULT_TOLERANCES = {
    ("central", "float64"): (5e-6, 2e-9, 1e-9),
    ("central", "float32"): (5e-6, 1e-4, 1e-6),
    ("scipy", "float64"): (1e-2, 1e-10, 1e-11),
    ("scipy", "float32"): (1e-2, 1e-4, 1e-6),
}

#: Networks with at most this many parameters get every coordinate checked.
MAX_COORDS = 2000

#: The central difference also allows for the loss's rounding noise, measured
#: at the checked parameters: where the loss cancels (``log(1 - p)`` with
#: ``p`` near 1) it is far above ``ROUNDING_ULPS`` of the loss, however right
#: the gradient. It is measured along ``NOISE_SAMPLES`` random directions,
#: with steps of ``NOISE_STEP * eps`` (small enough that the loss is a cubic
#: there to well below its rounding, large enough that its intermediates move
#: across many of their rounding steps, as they do between ``p ± eps``), and
#: allowed ``NOISE_SAFETY`` times over; see ``LossLine.rounding_noise`` and,
#: for how these were chosen, :func:`gradcheck`'s notes.
NOISE_SAMPLES = 8
NOISE_STEP = 1e-2
NOISE_SAFETY = 4

#: Where a central difference still mismatches, its truncation error is
#: estimated from a second difference at ``eps / 2``, and where it stands
#: above their rounding, Richardson's extrapolation ``(4 D(eps/2) - D(eps)) /
#: 3`` replaces it; but only for a truncation error up to this many times the
#: entry's tolerance. A larger one means a step not small against the loss's
#: length scale, where the extrapolation's own error need not be small.
TRUNCATION_LIMIT = 10

#: The steps ``eps`` accepts, relative to the parameters' scale
#: ``max(1, max |p|)``. Below the lower bound the loss difference keeps fewer
#: than four significant digits in float64 (unit roundoff 1.1e-16), so it
#: measures rounding; above the upper one it is a secant across the whole
#: loss surface, not a derivative.
EPS_RANGE = (1e-12, 1e3)

#: The document's names for the 2-2-1 network's parameters.
_DOCUMENT_SYMBOLS = {
    "layers[0].W": (("w1", "w2"), ("w3", "w4")),
    "layers[0].b": ("b1", "b2"),
    "layers[1].W": (("w5", "w6"),),
    "layers[1].b": ("b3",),
}


def gradcheck(
    net: Network,
    X: ArrayLike,
    y: ArrayLike,
    *,
    eps: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    method: str = "central",
    max_coords: int | None = MAX_COORDS,
    seed: SeedLike = 0,
    raise_exception: bool = True,
) -> GradcheckResult:
    """Check ``net.gradients(X, y)`` against finite differences of ``net.loss(X, y)``.

    Parameters
    ----------
    net : Network
        Possibly a subclass; its ``gradients`` is what gets checked.
    X : array-like of shape (n_samples, n_in)
    y : array-like of shape (n_samples, n_out), or (n_samples,) if n_out == 1
    eps : float, optional
        The step: ``"central"`` evaluates the loss at ``p ± eps`` for every
        checked coordinate ``p``; ``"scipy"`` starts its steps at ``eps``.
        Defaults from :data:`DEFAULT_TOLERANCES` (see Notes). A step outside
        :data:`EPS_RANGE` times ``max(1, max |p|)``, or one for which
        ``p ± eps`` overflows, is refused with ``ValueError``: the
        differences it gives would fail for the step's sake, not the
        gradient's.
    rtol, atol : float, optional
        An entry mismatches when ``|a - n| > atol + rtol * max(|a|, |n|)``
        plus the numeric side's own error: scipy's estimate for ``"scipy"``,
        the rounding bound of the difference for ``"central"`` (it matters
        only when the loss is large or cancels; see Notes). Defaults depend
        on the method and the network's dtype (see Notes).
    method : {"central", "scipy"}
        ``"central"``: ``(L(p + eps) - L(p - eps)) / (2 eps)``.
        ``"scipy"``: :func:`scipy.differentiate.jacobian`, an adaptive
        high-order difference that also estimates its own error; entries
        where it reports ``success == False`` count as unreliable.
    max_coords : int or None
        The budget. A network with at most this many parameters has every
        coordinate checked. A larger one has, in each of its ``2 L``
        parameter arrays, ``max(1, max_coords // (2 L))`` coordinates drawn
        without replacement (all of them if the array is smaller), plus one
        check of the derivative along a random unit direction through the
        whole array, which every entry of the array contributes to. None
        checks every coordinate whatever the size.
    seed : int, numpy.random.Generator or None
        Seeds the sample and the directions: the same seed checks the same
        coordinates and gives the same result.
    raise_exception : bool
        Raise :class:`GradcheckError` on a mismatch (default); otherwise
        return the failing result.

    Returns
    -------
    GradcheckResult

    Raises
    ------
    GradcheckError
        If ``raise_exception`` and some reliable entry mismatches. Its message
        names each failing array and its shape, lists at most 10 of its worst
        entries (index, analytic, numeric, absolute and relative difference)
        and the settings.

    Notes
    -----
    *Precision.* The analytic gradient comes from ``net`` in its own dtype.
    The numeric one is always taken in float64, on a twin of ``net``: a
    shallow copy (so it keeps a subclass's class, its ``loss`` and any extra
    attributes) whose parameters are replaced by a float64 upcast of
    ``net``'s. ``X`` and ``y`` are first rounded to ``net``'s dtype, then
    upcast, so both sides see the same numbers. ``net`` itself is never
    modified; the twin's parameters are restored exactly after each step.

    *Defaults* were measured on random networks: depth 1-3, widths 1-5,
    sigmoid/tanh/identity layers, weights and biases N(0, 1/fan_in), inputs
    in [-3, 3], targets in [0, 1], batches of 1, 3 and 8; 3,000 networks per
    row for ``"central"``, 1,000 for ``"scipy"``. The last column is the
    largest ``|a - n| - rtol * max(|a|, |n|)`` seen, which ``atol`` must
    cover:

    =======  =======  ====  =====  =====  ==========================
    method   dtype    eps   rtol   atol   largest excess seen
    =======  =======  ====  =====  =====  ==========================
    central  float64  5e-6  2e-9   1e-9   2.5e-10
    central  float32  5e-6  1e-4   1e-6   2.9e-7
    scipy    float64  1e-2  1e-10  1e-11  1.4e-12
    scipy    float32  1e-2  1e-4   1e-6   (float32 rounding dominates)
    =======  =======  ====  =====  =====  ==========================

    For ``"central"`` a step of 5e-6 balanced truncation error (which grows
    as eps**2) against rounding error (which grows as 1/eps) best of 3e-6,
    5e-6, 1e-5 and 2e-5; healthy float64 networks then agree to about 1e-9
    relative. A float32 network's backward pass rounds at about 1e-7, and
    worse where tanh saturates (``1 - A**2`` with ``A`` near 1), hence its
    looser tolerances; the numeric side being float64 either way, ``"scipy"``
    uses the same ones for float32. A further 4,000 networks, relu included
    and inputs pinned at the bounds, all passed with these defaults.

    *Rounding.* A loss evaluation is off by its rounding error, which the
    central difference divides by ``2 eps``. Usually that is a few ulps of
    the loss (``ROUNDING_ULPS`` are allowed), but where the loss cancels it
    can be far more: softmax outputs with ``binary_cross_entropy`` take
    ``log(1 - p)``, and with ``p = 0.99975`` the loss is good to about 1e-13,
    not 1e-16, while the analytic gradient stays accurate. So when an entry
    mismatches with the fixed bound, the loss's rounding noise at the
    checked parameters is measured, from the loss alone, at steps of
    ``NOISE_STEP * eps`` along ``NOISE_SAMPLES`` random directions drawn
    from ``seed`` (32 more loss evaluations), and ``NOISE_SAFETY`` times it
    is allowed; the result's ``loss_noise`` holds it and the report gives it
    where it set the bound. On 3,000 single-layer softmax networks with
    ``binary_cross_entropy`` (weights and biases moved by N(0, s**2), s up
    to 2, inputs up to 3 in size) whose true gradients were computed to 50
    digits, the fixed bound alone failed 14% of the right gradients; with
    the measured noise none failed, over 8 seeds each.

    *Truncation.* The central difference is off by its truncation error,
    about ``eps**2 L''' / 6``, which a loss that curves sharply (one-unit
    layers of gelu, silu or tanh) can lift above the tolerance. So for an
    entry that still mismatches, a second difference ``D(eps/2)`` is taken
    along the same probe (2 more losses); where ``|D(eps) - D(eps/2)|``
    stands above the two differences' rounding bounds, and the truncation it
    shows, 4/3 of it, is at most ``TRUNCATION_LIMIT`` times the entry's
    tolerance, the entry is compared with Richardson's extrapolation
    ``(4 D(eps/2) - D(eps)) / 3`` instead, whose truncation error is
    ``O(eps**4)`` and whose rounding bound, ``(4 r(eps/2) + r(eps)) / 3``,
    is computed from theirs; the entry's ``truncation`` holds the estimate
    and the report gives the largest. It comes from losses alone, so a wrong
    gradient cannot move it; but an error that happens to match the
    truncation error passes ``D(eps)`` and is never extrapolated.

    *Kinks.* With relu layers a finite difference can straddle a kink, where
    the loss has no derivative. A checked entry whose steps ``±eps`` change
    which relu units are active, on any sample, is marked unreliable rather
    than failed.

    Examples
    --------
    >>> import matnn
    >>> net = matnn.Network.from_sizes([2, 2, 1], seed=0)
    >>> matnn.gradcheck(net, [[-2, -1], [25, 6]], [1, 0]).ok
    True
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a matnn.Network, got {type(net).__name__}")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    # Checked as net.loss checks them: the loss's own targets, class labels included.
    X, Y = net._prepare(X, y)
    default_eps, default_rtol, default_atol = DEFAULT_TOLERANCES[method, net.dtype.name]
    eps = default_eps if eps is None else check_positive(eps, "eps")
    rtol = default_rtol if rtol is None else check_real(rtol, "rtol", 0)
    atol = default_atol if atol is None else check_real(atol, "atol", 0)
    if max_coords is not None:
        max_coords = check_int(max_coords, "max_coords", 1)
    rng = np.random.default_rng(seed)

    twin = _float64_twin(net)
    _check_eps(eps, twin.params, default_eps)
    grads = _analytic_gradients(net, X, Y)
    arrays, sampled = _plan(net, max_coords, rng)
    probes = [probe for array in arrays for probe in array.probes]
    line = LossLine(twin, X.astype(np.float64), Y.astype(np.float64))
    if method == "central":
        numeric, error, converged = line.central(probes, eps)
    else:
        numeric, error, converged = line.scipy(probes, eps)
    analytic = np.array([float(np.dot(weights, grad.ravel()[positions - array.offset]))
                         for array, grad in zip(arrays, grads)
                         for positions, weights in array.probes])
    unreliable = np.array([not converged[k] or line.crosses_kink(positions, weights, eps)
                           for k, (positions, weights) in enumerate(probes)], bool)
    scale = np.maximum(np.abs(analytic), np.abs(numeric))

    finite = np.isfinite(analytic) & np.isfinite(numeric)

    def mismatches(error: NDArray[np.float64]) -> NDArray[np.bool_]:
        # Written so that NaN on either side is a mismatch; an infinity is
        # one too, though its relative allowance would be infinite.
        with np.errstate(invalid="ignore"):
            close = np.abs(analytic - numeric) <= atol + rtol * scale + error
        return ~unreliable & ~(finite & close)

    mismatch = mismatches(error)
    noise, noisy = None, False
    if method == "central" and mismatch.any():
        # Only a mismatch can need the allowance for the loss's rounding
        # noise, so a passing check never pays for measuring it. Drawn after
        # the plan, so the seed samples the same coordinates as ever. A wrong
        # gradient cannot hide behind it: the noise comes from the loss alone,
        # and an error below NOISE_SAFETY times it over 2 eps is one these
        # differences cannot resolve anyway.
        noise = line.rounding_noise(NOISE_STEP * eps, rng, NOISE_SAMPLES)
        allowance = NOISE_SAFETY * noise / line.spans
        noisy = bool(np.any(allowance > error))
        error = np.maximum(error, allowance)
        mismatch = mismatches(error)
    truncation = np.full(len(probes), np.nan)
    if method == "central" and mismatch.any():
        # Where the loss curves sharply, D(eps) is off by its truncation
        # error, about eps**2 L'(3) / 6, however right the gradient. Rather
        # than excuse it with a safety multiple of an estimate (which would
        # let errors of that size through), remove it: Richardson's
        # (4 D(eps/2) - D(eps)) / 3 cancels the eps**2 term. Only losses
        # enter, so a wrong gradient cannot move it, and its rounding bound
        # is computed from those of D(eps) and D(eps/2). Again only mismatches
        # pay for it, two losses each.
        which = np.flatnonzero(mismatch & np.isfinite(analytic) & np.isfinite(numeric))
        which, half, half_error, half_spans = line.halved(probes, which, eps)
        # A mismatch left means the block above measured the noise.
        half_allowance = NOISE_SAFETY * noise / half_spans  # type: ignore[operator]
        half_error = np.maximum(half_error, half_allowance)
        full, full_error = numeric[which], error[which]
        with np.errstate(invalid="ignore", over="ignore"):
            # D(h) = L' + c h**2 + O(h**4): this is 3/4 c eps**2, up to the
            # rounding of both differences.
            change = np.abs(full - half)
            # Used only where the truncation stands above that rounding (else
            # the extrapolation, with three times the rounding of D(eps), only
            # loosens the check) and is at most TRUNCATION_LIMIT times the
            # tolerance (else eps is not small against the loss's length scale,
            # and the O(eps**4) left over need not be small either).
            use = ((change > full_error + half_error)
                   & (change * 4 / 3 <= TRUNCATION_LIMIT * (atol + rtol * np.abs(full) + full_error)))
            numeric[which[use]] = (4 * half[use] - full[use]) / 3
            error[which[use]] = (4 * half_error[use] + full_error[use]) / 3
            truncation[which[use]] = change[use] * 4 / 3
        scale = np.maximum(np.abs(analytic), np.abs(numeric))
        mismatch = mismatches(error)
    extrapolated = ~np.isnan(truncation)

    checks, k = [], 0
    for array in arrays:
        symbols = _DOCUMENT_SYMBOLS.get(array.name) if net.sizes == (2, 2, 1) else None
        entries = []
        for index in array.indices:
            entries.append(Entry(
                index=index,
                analytic=float(analytic[k]),
                numeric=float(numeric[k]),
                error_estimate=float(error[k]),
                unreliable=bool(unreliable[k]),
                mismatch=bool(mismatch[k]),
                symbol=_symbol(symbols, index),
                truncation=float(truncation[k]) if extrapolated[k] else None,
            ))
            k += 1
        checks.append(ParamCheck(array.name, array.shape, tuple(entries),
                                 net.activations[int(array.name[7:].split(']')[0])]))

    result = GradcheckResult(
        params=tuple(checks),
        method=method,
        eps=eps,
        rtol=rtol,
        atol=atol,
        dtype=net.dtype.name,
        sampled=sampled,
        loss_noise=noise,
        noisy_loss=noisy,
        truncation=float(truncation[extrapolated].max()) if extrapolated.any() else None,
    )
    if raise_exception and not result.ok:
        raise GradcheckError(result)
    return result


def _analytic_gradients(net: Network, X: FloatArray, Y: FloatArray) -> list[NDArray[np.float64]]:
    """``net.gradients(X, Y)`` as float64 arrays ``[dW1, db1, dW2, ...]``, shapes checked."""
    return [grad.astype(np.float64)
            for pair in check_gradients(net.gradients(X, Y), net.layers) for grad in pair]


def _float64_twin(net: Network) -> Network:
    """A shallow copy of ``net``, of the same class, with float64 parameters."""
    upcast = Network([Dense(layer.W, layer.b, layer.activation, dtype=np.float64)
                      for layer in net.layers], loss=net.loss_fn)
    if type(net) is Network:
        return upcast
    twin = copy.copy(net)
    vars(twin).update(vars(upcast))
    return twin


class _Array(NamedTuple):
    """The checks planned for one parameter array.

    ``indices[k]`` is the entry (None for the random direction) that
    ``probes[k]`` moves; ``offset`` is where the array starts in ``params``.
    """

    name: str
    shape: tuple[int, ...]
    offset: int
    indices: list[tuple[int, ...] | None]
    probes: list[Probe]


def _plan(
    net: Network, max_coords: int | None, rng: np.random.Generator
) -> tuple[list[_Array], bool]:
    """The :class:`_Array` of every parameter array, and whether it is a sample."""
    arrays, offset = [], 0
    for l, layer in enumerate(net.layers):
        arrays += [(f"layers[{l}].W", layer.W.shape), (f"layers[{l}].b", layer.b.shape)]
    sampled = max_coords is not None and net.params.size > max_coords
    share = 0 if max_coords is None else max(1, max_coords // len(arrays))
    plan = []
    for name, shape in arrays:
        size = math.prod(shape)
        if sampled:
            flat = np.sort(rng.choice(size, size=min(size, share), replace=False))
        else:
            flat = np.arange(size)
        indices: list[tuple[int, ...] | None] = [
            tuple(int(i) for i in np.unravel_index(k, shape)) for k in flat]
        probes = [(np.array([offset + k]), np.ones(1)) for k in flat]
        if sampled:
            direction = rng.standard_normal(size)
            direction /= np.linalg.norm(direction)
            indices.append(None)
            probes.append((np.arange(offset, offset + size), direction))
        plan.append(_Array(name, shape, offset, indices, probes))
        offset += size
    return plan, sampled


def _symbol(symbols: Any, index: tuple[int, ...] | None) -> str:
    if symbols is None or index is None:
        return ""
    for i in index:
        symbols = symbols[i]
    return symbols


def _check_eps(eps: float, params: FloatArray, default: float) -> None:
    """Refuse a step that overflows or vanishes next to the float64 ``params``."""
    scale = max(1.0, float(np.max(np.abs(params))))
    low, high = EPS_RANGE[0] * scale, EPS_RANGE[1] * scale
    advice = f"(the default for this method and dtype is {default:g})"
    if eps < low:
        raise ValueError(
            f"eps={eps:g} is too small for parameters as large as {scale:g}: the steps "
            f"p ± eps are lost in float64 rounding; use eps >= {low:g} {advice}"
        )
    if eps > high:
        raise ValueError(
            f"eps={eps:g} is too large for parameters as large as {scale:g}: the steps "
            f"p ± eps reach far beyond them; use eps <= {high:g} {advice}"
        )
    if not math.isfinite(2 * (scale + eps)):
        raise ValueError(
            f"eps={eps:g} with parameters as large as {scale:g}: the steps p ± eps "
            f"overflow float64; use a smaller eps {advice}"
        )
