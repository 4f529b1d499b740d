"""scikit-learn's two stochastic update rules, as matnn optimizers.

Both act on matnn's flat parameter buffer like every step optimizer
(:class:`matnn.optimizer_base.StepOptimizer`);
they differ from :class:`matnn.SGD` and :class:`matnn.Adam` (PyTorch's rules)
in where the learning rate and ``eps`` enter, and that difference shows in
the parameters after a few hundred steps.

:class:`VelocitySGD` keeps a *velocity* that already holds the learning
rate. For step ``t`` with gradient ``g_t``::

    v_t <- momentum * v_{t-1} - rate * g_t
    theta_t <- theta_{t-1} + momentum * v_t - rate * g_t     (nesterov)
    theta_t <- theta_{t-1} + v_t                             (otherwise)

With a constant rate ``v_t = -rate * b_t`` for PyTorch's buffer ``b_t``, so
the two rules agree; once a schedule changes the rate they part, because
the velocity remembers the rates of earlier steps.

:class:`BiasCorrectedStepAdam` folds both bias corrections into the step
size and adds ``eps`` to the uncorrected ``sqrt(v_t)``::

    m_t <- beta1 * m_{t-1} + (1 - beta1) * g_t
    v_t <- beta2 * v_{t-1} + (1 - beta2) * g_t**2
    step <- rate * sqrt(1 - beta2**t) / (1 - beta1**t)
    theta_t <- theta_{t-1} - step * m_t / (sqrt(v_t) + eps)

which is PyTorch's rule with ``eps`` scaled by ``sqrt(1 - beta2**t)``.

The rate of :class:`VelocitySGD` is a settable attribute, ``rate``, which a
learning-rate schedule moves between epochs. Neither takes weight decay:
scikit-learn's L2 term is part of the gradient (see
:mod:`matnn.sklearn._training`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.linalg import get_blas_funcs

from ..optimizer_base import StepOptimizer
from ..validation import check_real
from .._typing import FloatArray
from ..optimizer_base import Steps, Update

__all__ = ["VelocitySGD", "BiasCorrectedStepAdam"]


class _BlasStep(StepOptimizer):
    """A step optimizer whose update calls BLAS's ``scal`` and ``axpy`` on the parameters.

    An update is a few multiply-adds over every parameter at every step:
    one BLAS call does what takes numpy two, and rounds once
    (benchmarks/case_sklearn.py measures it). BLAS writes in place only into
    a contiguous vector (given another, scipy's wrapper would update a
    copy), so that is what these optimizers take.
    """

    def check(self, params: FloatArray) -> None:
        super().check(params)
        if params.ndim != 1 or not params.flags.c_contiguous:
            raise ValueError(
                f"{type(self).__name__} updates one contiguous vector of parameters, of shape "
                f"(n_params,); got an array of shape {params.shape} that is not one"
            )

    @staticmethod
    def _scal_axpy(params: FloatArray) -> tuple[Any, Any]:
        """BLAS's ``x <- a * x`` and ``y <- y + a * x`` for vectors like ``params``, in place."""
        scal, axpy = get_blas_funcs(("scal", "axpy"), (params,))
        return scal, axpy


class VelocitySGD(_BlasStep):
    """scikit-learn's SGD: a velocity that carries the learning rate (see the module).

    Parameters
    ----------
    learning_rate : float > 0
        The starting ``rate``.
    momentum : float in [0, 1]
    nesterov : bool

    Attributes
    ----------
    rate : float
        The learning rate of the next step; a schedule may set it.

    Notes
    -----
    The state is ``step`` and ``velocity`` (``v_t``).
    """

    _buffer_names = ("velocity",)

    def __init__(self, learning_rate: float, momentum: float = 0.9, nesterov: bool = True) -> None:
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        super().__init__(learning_rate=check_real(learning_rate, "learning_rate", 0, above=True),
                         momentum=check_real(momentum, "momentum", 0.0),
                         nesterov=bool(nesterov), weight_decay=0.0)
        self.rate = self.learning_rate

    @property
    def momentum(self) -> float:
        return self._hyper["momentum"]

    @property
    def nesterov(self) -> bool:
        return self._hyper["nesterov"]

    def _kernel(self, params: FloatArray) -> Update:
        v = self._buffers["velocity"]
        mu, nesterov = self.momentum, self.nesterov
        scal, axpy = self._scal_axpy(params)

        def update(p: FloatArray, g: FloatArray) -> None:
            # The rate is read at every step: a schedule changes it between epochs.
            rate = self.rate
            scal(mu, v)
            axpy(g, v, a=-rate)
            if nesterov:
                # p + (mu * v_t - rate * g_t), as two fused steps
                axpy(v, p, a=mu)
                axpy(g, p, a=-rate)
            else:
                axpy(v, p, a=1.0)

        return update


class BiasCorrectedStepAdam(_BlasStep):
    """scikit-learn's Adam: bias corrections in the step, ``eps`` outside them (see the module).

    Parameters
    ----------
    learning_rate : float > 0
    betas : pair of float in [0, 1)
    eps : float > 0

    Notes
    -----
    The state is ``step`` (``t``), ``exp_avg`` (``m_t``) and ``exp_avg_sq``
    (``v_t``). A float32 network steps in float32 throughout, where
    scikit-learn forms ``step * m_t / (sqrt(v_t) + eps)`` in float64 (its
    step size is a numpy float64) before adding it: the two differ by
    float32 rounding.
    """

    _buffer_names = ("exp_avg", "exp_avg_sq")
    _nonzero = ("learning_rate", "eps")

    def __init__(
        self,
        learning_rate: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        super().__init__(
            learning_rate=check_real(learning_rate, "learning_rate", 0, above=True),
            betas=tuple(check_real(b, f"betas[{i}]", 0.0, below=1.0) for i, b in enumerate(betas)),
            eps=check_real(eps, "eps", 0.0, above=True),
            weight_decay=0.0)

    @property
    def betas(self) -> tuple[float, float]:
        return self._hyper["betas"]

    @property
    def eps(self) -> float:
        return self._hyper["eps"]

    def _kernel(self, params: FloatArray) -> Update:
        lr, (beta1, beta2), eps = self.learning_rate, self.betas, self.eps
        m, v = self._buffers["exp_avg"], self._buffers["exp_avg_sq"]
        scratch = np.empty_like(params)
        scal, axpy = self._scal_axpy(params)
        multiply, add, divide, sqrt = np.multiply, np.add, np.divide, np.sqrt

        def update(p: FloatArray, g: FloatArray) -> None:
            # step() has counted this step.
            t: Steps = self._t  # type: ignore[assignment]
            scal(beta1, m)
            axpy(g, m, a=1 - beta1)
            multiply(g, g, g)
            scal(beta2, v)
            axpy(g, v, a=1 - beta2)
            size = lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
            sqrt(v, scratch)
            add(scratch, eps, scratch)
            divide(m, scratch, scratch)
            axpy(scratch, p, a=-size)

        return update
