"""What :func:`~matnn.gradcheck` found: an :class:`Entry` per checked
derivative, a :class:`ParamCheck` per parameter array, the whole
:class:`GradcheckResult` with its table and failure report, and the
:class:`GradcheckError` that carries it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

__all__ = ["GradcheckResult", "GradcheckError", "ParamCheck", "Entry", "MAX_REPORTED"]

#: A failure report lists at most this many entries per parameter array.
MAX_REPORTED = 10


class GradcheckError(AssertionError):
    """The analytic gradient disagrees with finite differences.

    Attributes
    ----------
    result : GradcheckResult
        The full result; the message is its :meth:`~GradcheckResult.report`.
    """

    def __init__(self, result: GradcheckResult) -> None:
        super().__init__(result.report())
        self.result = result


@dataclass(frozen=True)
class Entry:
    """One checked derivative: a coordinate of a parameter array, or a
    random direction through the whole array.

    Attributes
    ----------
    index : tuple of int, or None
        The entry's index in its parameter array, ``(0, 1)`` for ``W[0, 1]``;
        None for the random directional check.
    analytic : float
        From ``net.gradients`` (for a direction ``v``: ``sum(dW * v)``).
    numeric : float
        From finite differences of ``net.loss``, in float64: for
        ``"central"``, ``D(eps) = (L(p + eps) - L(p - eps)) / (2 eps)``, or,
        where ``truncation`` is set, Richardson's extrapolation
        ``(4 D(eps/2) - D(eps)) / 3``, whose truncation error is
        ``O(eps**4)`` instead of ``O(eps**2)``.
    error_estimate : float
        The numeric value's own error: scipy's estimate for ``"scipy"``; for
        ``"central"``, the rounding bound of the difference quotient,
        ``ROUNDING_ULPS * eps64 * |L|`` or, if it was measured and is larger,
        ``NOISE_SAFETY * loss_noise`` (see :class:`GradcheckResult`), over
        ``2 eps``; for an extrapolated value, ``(4 r(eps/2) + r(eps)) / 3``
        from the rounding bounds ``r`` of its two differences.
    unreliable : bool
        The difference straddled a relu kink, or scipy did not converge; the
        entry is reported but never counted as a mismatch.
    mismatch : bool
        ``|analytic - numeric| > atol + rtol * max(|analytic|, |numeric|)
        + error_estimate`` on a reliable entry (NaN always mismatches).
    symbol : str
        The document's name for the entry (``"w2"``), on its 2-2-1 network.
    truncation : float or None
        Set only where ``numeric`` is the extrapolated value (``"central"``,
        an entry that mismatched with ``D(eps)``; see :func:`gradcheck`'s
        notes): the truncation error of ``D(eps)`` estimated from losses
        alone, ``|D(eps) - D(eps/2)| * 4/3`` (it includes up to 4/3 of the two
        differences' rounding). None elsewhere.
    """

    index: tuple[int, ...] | None
    analytic: float
    numeric: float
    error_estimate: float
    unreliable: bool
    mismatch: bool
    symbol: str = ""
    truncation: float | None = None

    @property
    def abs_error(self) -> float:
        return abs(self.analytic - self.numeric)

    @property
    def rel_error(self) -> float:
        """``|a - n| / max(|a|, |n|)``, and 0 when both are 0."""
        scale = max(abs(self.analytic), abs(self.numeric))
        if scale == 0:
            return 0.0
        return self.abs_error / scale

    @property
    def label(self) -> str:
        if self.index is None:
            return "random direction"
        return f"{self.index} {self.symbol}".rstrip()


@dataclass(frozen=True)
class ParamCheck:
    """The check of one parameter array, ``layers[i].W`` or ``layers[i].b``.

    The maxima and counts below leave out unreliable entries.
    """

    name: str
    shape: tuple[int, ...]
    entries: tuple[Entry, ...]
    activation: str = ""

    @property
    def _reliable(self) -> list[Entry]:
        return [e for e in self.entries if not e.unreliable]

    @property
    def n_checked(self) -> int:
        return len(self.entries)

    @property
    def n_unreliable(self) -> int:
        return sum(e.unreliable for e in self.entries)

    @property
    def n_mismatches(self) -> int:
        return sum(e.mismatch for e in self.entries)

    @property
    def max_abs_error(self) -> float:
        return _nanmax(e.abs_error for e in self._reliable)

    @property
    def max_rel_error(self) -> float:
        return _nanmax(e.rel_error for e in self._reliable)

    @property
    def ok(self) -> bool:
        return self.n_mismatches == 0

    @property
    def document_names(self) -> str:
        """The document's names of the checked entries, e.g. ``"w1, w2, w3, w4"``."""
        return ", ".join(e.symbol for e in self.entries if e.symbol)

    def worst(self, k: int = MAX_REPORTED) -> list[Entry]:
        """The ``k`` mismatching entries with the largest relative error, NaN first."""
        bad = [e for e in self.entries if e.mismatch]
        bad.sort(key=lambda e: (not math.isnan(e.rel_error), -e.rel_error, -e.abs_error))
        return bad[:k]


@dataclass(frozen=True)
class GradcheckResult:
    """What :func:`gradcheck` found, one :class:`ParamCheck` per parameter array.

    Attributes
    ----------
    params : tuple of ParamCheck
        In the order of ``net.params``: ``layers[0].W``, ``layers[0].b``, ...
    method, eps, rtol, atol :
        The settings the check ran with.
    dtype : str
        The checked network's dtype (the numeric side is always float64).
    sampled : bool
        True when the network had more than ``max_coords`` parameters and
        only a sample of coordinates (plus a random direction) was checked.
    loss_noise : float or None
        How far the loss's rounding alone moved a difference of two float64
        losses at tiny random steps around the checked parameters; the
        rounding bound of every difference then allows ``NOISE_SAFETY`` times
        this over the step. Measured for ``"central"`` when some entry
        mismatched with ``ROUNDING_ULPS`` of the loss alone, else None.
    noisy_loss : bool
        The measured noise, not ``ROUNDING_ULPS`` of the loss, set the
        rounding bound of some entry: the loss loses digits to cancellation.
        The settings in the report then give the noise.
    truncation : float or None
        The largest :attr:`Entry.truncation`: the loss curves so sharply that
        some central difference's truncation error stood above its rounding,
        and gradcheck extrapolated it away. The settings in the report then
        give it. None if no entry was extrapolated.
    """

    params: tuple[ParamCheck, ...]
    method: str
    eps: float
    rtol: float
    atol: float
    dtype: str
    sampled: bool
    loss_noise: float | None = None
    noisy_loss: bool = False
    truncation: float | None = None

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.params)

    @property
    def failures(self) -> list[ParamCheck]:
        """The :class:`ParamCheck` of every array with a mismatch."""
        return [p for p in self.params if not p.ok]

    def settings(self) -> str:
        coverage = "a seeded sample of coordinates" if self.sampled else "every coordinate"
        # Only when it mattered: below the fixed bound it is a few ulps of
        # the loss, and its digits vary from one machine's rounding to another's.
        noise = f", loss rounding noise ~{self.loss_noise:.1e}" if self.noisy_loss else ""
        truncation = ("" if self.truncation is None else
                      f", truncation error up to ~{self.truncation:.1e} extrapolated away")
        return (f"method {self.method!r}, eps {self.eps:g}, rtol {self.rtol:g}, "
                f"atol {self.atol:g}, dtype {self.dtype} (differences in float64), "
                f"{coverage}{noise}{truncation}")

    def table(self) -> str:
        """A per-parameter summary, one row per array."""
        with_names = any(p.document_names for p in self.params)
        header = ["parameter", "shape"] + (["document"] if with_names else []) + [
            "checked", "unreliable", "mismatches", "max abs err", "max rel err"]
        rows = [header]
        for p in self.params:
            rows.append([p.name, str(p.shape)] + ([p.document_names] if with_names else []) + [
                str(p.n_checked), str(p.n_unreliable), str(p.n_mismatches),
                f"{p.max_abs_error:.2e}", f"{p.max_rel_error:.2e}"])
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        n_text = 3 if with_names else 2
        lines = ["  ".join(c.ljust(w) if i < n_text else c.rjust(w)
                           for i, (c, w) in enumerate(zip(r, widths))).rstrip()
                 for r in rows]
        verdict = "passed" if self.ok else f"FAILED in {len(self.failures)} of {len(self.params)} arrays"
        return "\n".join([f"gradcheck {verdict}: {self.settings()}"] + lines)

    def report(self) -> str:
        """The failure report: the worst entries of every failing array."""
        if self.ok:
            return f"gradcheck passed: {self.settings()}"
        lines = [
            f"gradcheck failed: net.gradients disagrees with finite differences of "
            f"net.loss in {len(self.failures)} of {len(self.params)} parameter arrays",
            f"  {self.settings()}",
            "  an entry mismatches when |analytic - numeric| > atol + rtol * "
            "max(|analytic|, |numeric|)" + (" + scipy's error estimate"
                                            if self.method == "scipy" else
                                            " + the difference's rounding bound"),
        ]
        for p in self.failures:
            lines.append(f"{p.name}, shape {p.shape}: {p.n_mismatches} of {p.n_checked} "
                         f"checked entries mismatch (the layer's activation is {p.activation!r})")
            worst = p.worst()
            width = max(len("index"), *(len(e.label) for e in worst))
            lines.append(f"    {'index'.ljust(width)}  {'analytic':>14}  {'numeric':>14}"
                         f"  {'abs diff':>9}  {'rel error':>9}")
            for e in worst:
                lines.append(f"    {e.label.ljust(width)}  {e.analytic:14.7e}  {e.numeric:14.7e}"
                             f"  {e.abs_error:9.2e}  {e.rel_error:9.2e}")
            if p.n_mismatches > len(worst):
                lines.append(f"    ... and {p.n_mismatches - len(worst)} more")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _nanmax(values: Iterable[float]) -> float:
    """The largest value, NaN if any is NaN, and 0 for none."""
    values = list(values)
    if any(math.isnan(v) for v in values):
        return math.nan
    return max(values, default=0.0)
