"""Finite differences of a network's loss, the numeric side of
:func:`~matnn.gradcheck`: central differences along probe directions with
their rounding bounds, the loss's measured rounding noise, the relu kinks a
step may cross, and scipy's adaptive differences. Only the loss and the
forward pass are evaluated here, never ``gradients``, so a wrong gradient
cannot move any of it."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence, TypeAlias, TypeVar

import numpy as np

from ._typing import NDArray

if TYPE_CHECKING:
    from .network import Network

T = TypeVar("T")

#: The flat parameter indices a probe moves.
Positions: TypeAlias = "NDArray[np.intp]"
#: A probe ``(positions, weights)``: the indices it moves and by how much per unit step.
Probe: TypeAlias = "tuple[NDArray[np.intp], NDArray[np.float64]]"

__all__ = ["LossLine", "ROUNDING_ULPS"]

#: The central difference allows for each loss being off by this many ulps of
#: itself; 16 covers the rounding of a float64 sum of the batch's terms.
ROUNDING_ULPS = 16
_EPS64 = float(np.finfo(np.float64).eps)

# The inner step's ratio to the outer one, far from any simple fraction, so
# that a sample's four points sit at unrelated places on the rounding grid of
# every intermediate (with 1/2, half of them could line up).
_RATIO = (math.sqrt(5) - 1) / 2


class LossLine:
    """The float64 twin's loss along probe directions, ``t -> L(p + t d)``.

    A probe is ``(positions, weights)``: the flat parameter indices it moves
    and by how much per unit ``t``; a coordinate is ``([k], [1.0])``.
    """

    def __init__(self, twin: Network, X: NDArray[np.float64], Y: NDArray[np.float64]) -> None:
        self.twin = twin
        self.X = X
        self.Y = Y
        self.base = twin.params.copy()
        self.kinked = [l for l, layer in enumerate(twin.layers) if layer.activation.kinks]
        self.pattern = self._pattern() if self.kinked else None

    def _evaluate(
        self, moves: Sequence[tuple[Positions, NDArray[np.float64]]], what: Callable[[], T]
    ) -> T:
        """``what()`` with the twin moved by ``moves``, a list of (positions, delta)."""
        p = self.twin.params
        try:
            for positions, delta in moves:
                p[positions] += delta
            return what()
        finally:
            for positions, _ in moves:
                p[positions] = self.base[positions]

    def _loss(self) -> float:
        return float(self.twin.loss(self.X, self.Y))

    def _pattern(self) -> list[NDArray[np.bool_]]:
        activations = self.twin.forward(self.X)
        # Which side of each kink every unit's pre-activation Z is on.
        sides = []
        for l in self.kinked:
            layer = self.twin.layers[l]
            Z = activations[l] @ layer.W.T + layer.b
            sides += [Z > k for k in layer.activation.kinks]
        return sides

    def crosses_kink(self, positions: Positions, weights: NDArray[np.float64], step: float) -> bool:
        if not self.kinked:
            return False
        for sign in (1, -1):
            moved = self._evaluate([(positions, sign * step * weights)], self._pattern)
            # The pattern is kept wherever there are kinks.
            if any(not np.array_equal(a, b)
                   for a, b in zip(moved, self.pattern)):  # type: ignore[arg-type]
                return True
        return False

    def rounding_noise(self, step: float, rng: np.random.Generator, samples: int) -> float:
        """How far the loss's rounding alone moves a difference of two losses near ``p``.

        For each of ``samples`` random directions ``v``, entries uniform in
        ``[-1, 1]``, take ``D(t) = L(p + t v) - L(p - t v)`` at ``t = step``
        and ``t = r * step``. In ``D(step) - D(r * step) / r`` the terms of
        degree 0, 1 and 2 of the loss's Taylor series cancel, and the cubic
        one, of order ``step**3``, is far below rounding; what is left is the
        rounding of four losses. Divided by ``sqrt(1 + 1 / r**2)`` it is on
        the scale of the rounding of one difference ``L(p + eps) - L(p - eps)``
        for independent roundings. Returns the largest over the directions;
        a direction whose points are not finite, or change which side of a
        kink some unit is on, measures something else and is skipped (0 if
        every one is).

        Only losses enter, never ``net.gradients``: a wrong gradient cannot
        raise the allowance it is checked against.
        """
        worst = 0.0
        v, point = np.empty_like(self.base), np.empty_like(self.base)
        for _ in range(samples):
            rng.random(out=v)
            v *= 2
            v -= 1
            losses: list[float] = []
            for t in (step, -step, _RATIO * step, -_RATIO * step):
                np.multiply(v, t, out=point)
                point += self.base
                if self.kinked and self._at(point, self._off_pattern):
                    break
                losses.append(self._at(point, self._loss))
            else:
                up, down, up_r, down_r = losses
                deviation = abs((up - down) - (up_r - down_r) / _RATIO) / math.sqrt(1 + _RATIO ** -2)
                if math.isfinite(deviation):
                    worst = max(worst, deviation)
        return worst

    def _at(self, point: NDArray[np.float64], what: Callable[[], Any]) -> Any:
        """``what()`` with the twin's parameters at ``point``, then restored."""
        p = self.twin.params
        try:
            p[...] = point
            return what()
        finally:
            p[...] = self.base

    def _off_pattern(self) -> bool:
        """Whether some unit is on another side of a kink than at ``p``."""
        # Called only where there are kinks, so with a pattern.
        return any(not np.array_equal(a, b)
                   for a, b in zip(self._pattern(), self.pattern))  # type: ignore[arg-type]

    def central(
        self, probes: list[Probe], eps: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
        """Central differences along ``probes``, and each one's rounding bound.

        Also sets ``spans``, the step each difference was divided by.
        """
        numeric, rounding, self.spans = self._differences(probes, eps)
        return numeric, rounding, np.ones(len(probes), bool)

    def halved(
        self, probes: list[Probe], which: Iterable[int], eps: float
    ) -> tuple[NDArray[np.int_], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Central differences at ``eps / 2`` along some probes, and their rounding bounds.

        Parameters
        ----------
        probes : list of (positions, weights)
        which : ndarray of int
            The indices into ``probes`` to take.
        eps : float
            Twice the step.

        Returns
        -------
        kept : ndarray of int
            ``which`` less the probes whose steps ``±eps / 2`` change which
            side of a kink some unit is on: there the two steps differentiate
            different pieces of the loss (rare, since ``±eps`` did not).
        numeric, rounding, spans : ndarray of shape (len(kept),)
            The differences, their rounding bounds (as :meth:`central`'s) and
            the steps they were divided by.
        """
        kept = np.array([k for k in which if not self.crosses_kink(*probes[k], eps / 2)], int)
        return (kept, *self._differences([probes[k] for k in kept], eps / 2))

    def _differences(
        self, probes: list[Probe], eps: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Central differences along ``probes``, their rounding bounds and spans."""
        numeric, rounding = np.empty(len(probes)), np.empty(len(probes))
        spans = np.empty(len(probes))
        for k, (positions, weights) in enumerate(probes):
            loss_up = self._evaluate([(positions, eps * weights)], self._loss)
            loss_down = self._evaluate([(positions, -eps * weights)], self._loss)
            # Divide by the step actually taken, which rounding of p ± eps
            # may have made differ from 2 * eps.
            base = self.base[positions]
            taken = (base + eps * weights) - (base - eps * weights)
            span = np.dot(weights, taken) / np.dot(weights, weights)
            numeric[k] = (loss_up - loss_down) / span
            spans[k] = abs(span)
            # Each loss is a float64 sum good to some ulps of itself, and the
            # quotient magnifies that by 1 / span: the larger the loss, the
            # larger the error of the difference, however right the gradient.
            # (Where the loss cancels it is worse: see rounding_noise.)
            rounding[k] = ROUNDING_ULPS * _EPS64 * max(abs(loss_up), abs(loss_down)) / abs(span)
        return numeric, rounding, spans

    def scipy(
        self, probes: list[Probe], eps: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
        from scipy.differentiate import jacobian

        def losses(T: NDArray[np.float64]) -> NDArray[np.float64]:
            # T has shape (n_probes, ...): one column per point scipy asks for.
            columns = T.reshape(len(probes), -1)
            out = np.empty(columns.shape[1])
            for j, t in enumerate(columns.T):
                moves = [(probes[i][0], t[i] * probes[i][1]) for i in np.flatnonzero(t)]
                out[j] = self._evaluate(moves, self._loss)
            return out.reshape(T.shape[1:])

        res = jacobian(losses, np.zeros(len(probes)), initial_step=eps)
        return res.df, res.error, res.success
