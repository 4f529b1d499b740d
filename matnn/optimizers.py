"""Optimizers: what turns a gradient into a parameter update.

The document's rule is plain gradient descent, ``w -= learn_rate * dL/dw``.
:class:`SGD` (with momentum, Nesterov and weight decay), :class:`Adam` and
:class:`AdamW` follow, formula for formula, the update rules PyTorch documents
for ``torch.optim.SGD`` (dampening 0), ``Adam`` and ``AdamW`` (amsgrad off,
maximize off); each class docstring gives its pseudo-code. Weight decay acts
on every parameter, biases included, as in PyTorch.

The interface they share, :class:`Optimizer`, and the step machinery,
:class:`StepOptimizer` (one flat buffer, per-member hyperparameters,
state that is saved, restored, selected and merged), live in
:mod:`matnn.optimizer_base`.
"""

from __future__ import annotations

import numpy as np

from ._typing import FloatArray
from .optimizer_base import Hyper, HyperLike, Optimizer, StepOptimizer, Steps, Update
from .validation import check_real

__all__ = ["Optimizer", "StepOptimizer", "SGD", "Adam", "AdamW"]


class SGD(StepOptimizer):
    r"""Stochastic gradient descent, with optional momentum and weight decay.

    PyTorch's ``torch.optim.SGD`` with dampening 0. For step ``t = 1, 2, ...``
    with gradient ``g_t`` at ``theta_{t-1}``::

        if weight_decay != 0:  g_t <- g_t + weight_decay * theta_{t-1}
        if momentum != 0:
            b_t <- g_t                            if t == 1
                   momentum * b_{t-1} + g_t       otherwise
            g_t <- g_t + momentum * b_t           if nesterov
                   b_t                            otherwise
        theta_t <- theta_{t-1} - learning_rate * g_t

    With the defaults this is the document's ``w -= learn_rate * dL/dw``,
    which steps on a fast path: two in-place ufunc calls,
    ``grad *= learning_rate; params -= grad`` (``fit(learning_rate=...)``
    trains with it). The buffer starts at 0, so that ``momentum * b_0 + g_1`` is exactly
    ``g_1`` on each member's first step.

    Parameters
    ----------
    learning_rate : float > 0, or array of shape (n_members,)
    momentum : float >= 0, or array of shape (n_members,)
    nesterov : bool
        Needs ``momentum > 0`` (for every member).
    weight_decay : float >= 0, or array of shape (n_members,)

    Notes
    -----
    The state is ``step`` and, unless ``momentum`` is the single number 0,
    ``momentum_buffer`` (``b_t``).
    """

    def __init__(
        self,
        learning_rate: HyperLike,
        momentum: HyperLike = 0.0,
        nesterov: bool = False,
        weight_decay: HyperLike = 0.0,
    ) -> None:
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        rate = check_real(learning_rate, "learning_rate", 0, per_member=True, above=True)
        momentum = check_real(momentum, "momentum", 0.0, per_member=True)
        weight_decay = check_real(weight_decay, "weight_decay", 0.0, per_member=True)
        if nesterov and np.any(np.asarray(momentum) == 0):
            raise ValueError("nesterov=True needs momentum > 0 (for every member)")
        self._buffer_names = () if _is_zero(momentum) else ("momentum_buffer",)
        super().__init__(learning_rate=rate, momentum=momentum, nesterov=bool(nesterov),
                         weight_decay=weight_decay)

    @property
    def momentum(self) -> Hyper:
        return self._hyper["momentum"]

    @property
    def nesterov(self) -> bool:
        return self._hyper["nesterov"]

    def _kernel(self, params: FloatArray) -> Update:
        dtype = params.dtype
        # In the parameters' dtype, so a float32 network steps in float32; a
        # 0-d array is what numpy would convert the float to on every call.
        rate = np.array(self.learning_rate, dtype)
        multiply, add, subtract = np.multiply, np.add, np.subtract
        if _is_zero(self.weight_decay) and _is_zero(self.momentum):
            # The lesson's rule, with the gradient as scratch.
            def plain(p: FloatArray, g: FloatArray) -> None:
                multiply(g, rate, g)
                subtract(p, g, p)

            return plain
        decay = None if _is_zero(self.weight_decay) else np.array(self.weight_decay, dtype)
        buf = self._buffers.get("momentum_buffer")
        mu = None if buf is None else np.array(self.momentum, dtype)
        nesterov = self.nesterov
        scratch = np.empty_like(params)

        def update(p: FloatArray, g: FloatArray) -> None:
            if decay is not None:
                multiply(p, decay, scratch)
                add(g, scratch, g)
            if buf is not None:
                # mu is set wherever buf is.
                multiply(buf, mu, buf)  # type: ignore[arg-type]
                add(buf, g, buf)
                if nesterov:
                    multiply(buf, mu, scratch)  # type: ignore[arg-type]
                    add(g, scratch, g)
                else:
                    g = buf
            multiply(g, rate, scratch)
            subtract(p, scratch, p)

        return update


class Adam(StepOptimizer):
    r"""Adam (Kingma & Ba), with L2 weight decay added to the gradient.

    PyTorch's ``torch.optim.Adam`` (amsgrad off). With ``m_0 = v_0 = 0``, for
    step ``t = 1, 2, ...`` with gradient ``g_t`` at ``theta_{t-1}``::

        if weight_decay != 0:  g_t <- g_t + weight_decay * theta_{t-1}
        m_t <- beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t <- beta2 * v_{t-1} + (1 - beta2) * g_t**2
        m_hat <- m_t / (1 - beta1**t)
        v_hat <- v_t / (1 - beta2**t)
        theta_t <- theta_{t-1} - learning_rate * m_hat / (sqrt(v_hat) + eps)

    Parameters
    ----------
    learning_rate : float > 0, or array of shape (n_members,)
    betas : pair of (float in [0, 1), or array of shape (n_members,))
    eps : float > 0, or array of shape (n_members,)
    weight_decay : float >= 0, or array of shape (n_members,)

    Notes
    -----
    The state is ``step`` (``t``), ``exp_avg`` (``m_t``) and ``exp_avg_sq``
    (``v_t``).
    """

    _buffer_names = ("exp_avg", "exp_avg_sq")
    _nonzero = ("learning_rate", "eps")
    _decoupled = False

    def __init__(
        self,
        learning_rate: HyperLike = 1e-3,
        betas: tuple[HyperLike, HyperLike] = (0.9, 0.999),
        eps: HyperLike = 1e-8,
        weight_decay: HyperLike = 0.0,
    ) -> None:
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__"):
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {len(betas)} values")
        super().__init__(
            learning_rate=check_real(learning_rate, "learning_rate", 0, per_member=True, above=True),
            betas=tuple(check_real(b, f"betas[{i}]", 0.0, per_member=True, below=1.0)
                        for i, b in enumerate(betas)),
            eps=check_real(eps, "eps", 0, per_member=True, above=True),
            weight_decay=check_real(weight_decay, "weight_decay", 0.0, per_member=True),
        )

    @property
    def betas(self) -> tuple[Hyper, Hyper]:
        return self._hyper["betas"]

    @property
    def eps(self) -> Hyper:
        return self._hyper["eps"]

    def _kernel(self, params: FloatArray) -> Update:
        dtype = params.dtype
        lr, (beta1, beta2), wd = self.learning_rate, self.betas, self.weight_decay
        # Constants as arrays of the parameters' dtype: 0-d, or one per member.
        b1, b2 = np.array(beta1, dtype), np.array(beta2, dtype)
        one_minus_b1 = np.array(1 - np.asarray(beta1), dtype)
        one_minus_b2 = np.array(1 - np.asarray(beta2), dtype)
        eps = np.array(self.eps, dtype)
        if _is_zero(wd):
            coupled = decoupled = None
        elif self._decoupled:
            coupled, decoupled = None, np.array(1 - np.asarray(lr) * wd, dtype)
        else:
            coupled, decoupled = np.array(wd, dtype), None
        m, v = self._buffers["exp_avg"], self._buffers["exp_avg_sq"]
        # lr / (1 - beta1**t) and 1 - beta2**t, rewritten every step (one
        # value per member in an ensemble, whose members may differ in t).
        step_size = np.empty(params.shape[1:], dtype)
        correction2 = np.empty(params.shape[1:], dtype)
        scratch = np.empty_like(params)
        multiply, add, divide, sqrt, subtract = np.multiply, np.add, np.divide, np.sqrt, np.subtract

        def update(p: FloatArray, g: FloatArray) -> None:
            # step() has counted this step.
            t: Steps = self._t  # type: ignore[assignment]
            if decoupled is not None:
                multiply(p, decoupled, p)
            elif coupled is not None:
                multiply(p, coupled, scratch)
                add(g, scratch, g)
            multiply(m, b1, m)
            multiply(g, one_minus_b1, scratch)
            add(m, scratch, m)
            multiply(v, b2, v)
            multiply(g, g, g)
            multiply(g, one_minus_b2, g)
            add(v, g, v)
            step_size[...] = lr / (1 - beta1 ** t)
            correction2[...] = 1 - beta2 ** t
            divide(v, correction2, scratch)
            sqrt(scratch, scratch)
            add(scratch, eps, scratch)
            divide(m, scratch, g)
            multiply(g, step_size, g)
            subtract(p, g, p)

        return update


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter).

    PyTorch's ``torch.optim.AdamW`` (amsgrad off). With ``m_0 = v_0 = 0``,
    for step ``t = 1, 2, ...`` with gradient ``g_t`` at ``theta_{t-1}``::

        theta <- theta_{t-1} - learning_rate * weight_decay * theta_{t-1}
        m_t <- beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t <- beta2 * v_{t-1} + (1 - beta2) * g_t**2
        m_hat <- m_t / (1 - beta1**t)
        v_hat <- v_t / (1 - beta2**t)
        theta_t <- theta - learning_rate * m_hat / (sqrt(v_hat) + eps)

    The decay is applied as ``theta *= 1 - learning_rate * weight_decay``,
    as PyTorch computes it. Unlike :class:`Adam`'s, it never enters the
    moments.

    Parameters
    ----------
    learning_rate : float > 0, or array of shape (n_members,)
    betas : pair of (float in [0, 1), or array of shape (n_members,))
    eps : float > 0, or array of shape (n_members,)
    weight_decay : float >= 0, or array of shape (n_members,)

    Notes
    -----
    The state is ``step`` (``t``), ``exp_avg`` (``m_t``) and ``exp_avg_sq``
    (``v_t``).
    """

    _decoupled = True

    def __init__(
        self,
        learning_rate: HyperLike = 1e-3,
        betas: tuple[HyperLike, HyperLike] = (0.9, 0.999),
        eps: HyperLike = 1e-8,
        weight_decay: HyperLike = 1e-2,
    ) -> None:
        super().__init__(learning_rate, betas, eps, weight_decay)


def _is_zero(value: Hyper) -> bool:
    """True for the single number 0 (a per-member array always takes the general path)."""
    return not isinstance(value, np.ndarray) and value == 0
