"""Optimizers: what turns a gradient into a parameter update.

The document's rule is plain gradient descent, ``w -= learn_rate * dL/dw``.
:class:`SGD` (with momentum, Nesterov and weight decay), :class:`Adam` and
:class:`AdamW` follow, formula for formula, the update rules PyTorch documents
for ``torch.optim.SGD`` (dampening 0), ``Adam`` and ``AdamW`` (amsgrad off,
maximize off); each class docstring gives its pseudo-code. Weight decay acts
on every parameter, biases included, as in PyTorch.

One optimizer works on one flat parameter buffer and holds its state (step
count, momentum buffer or moments) between calls:

- a network's ``params`` of shape (n_params,);
- an ensemble's, of shape (n_params, n_members), member axis last. Every
  hyperparameter may then be one number or an array of shape (n_members,),
  one per member; member ``k`` takes exactly the steps an optimizer built
  with the ``k``-th values would take on its column alone.

Every step is a handful of whole-array ufunc calls over the flat buffer, with
positional ``out`` arguments, preallocated scratch and constants stored as
arrays of the parameters' dtype (0-d, or one per member), so a step costs
the same few calls at batch size 1 as on a large network, and a float32
network steps in float32.

For an ensemble, whose diverged members are frozen while the others train
on, :meth:`StepOptimizer.select` returns the optimizer of some members (their
hyperparameters and a copy of their state), and :meth:`StepOptimizer.merge`
writes such an optimizer's state back::

    run = opt.select(active)        # active: bool mask of shape (n_members,)
    ...                              # run.step(...) on the active members' buffer
    opt.merge(active, run)           # their state, back into opt

Every optimizer implements :class:`Optimizer`. :class:`~matnn.LBFGS`
(:mod:`matnn.lbfgs`) is different in kind: a full-batch method that hands
the loss and its gradient to ``scipy.optimize.minimize``; it has
``minimize`` instead of ``step``, and says so with ``full_batch = True``.
"""

from __future__ import annotations

import abc
import copy

import numpy as np

from .validation import FLOAT_DTYPES, check_int, check_real

__all__ = ["Optimizer", "StepOptimizer", "SGD", "Adam", "AdamW"]


class Optimizer(abc.ABC):
    """What every optimizer is, and what ``fit`` asks of it.

    An optimizer holds its hyperparameters (the constructor's keyword
    arguments, validated; a subclass passes them to ``super().__init__``)
    and a state it may carry from one ``fit`` to the next. ``fit`` tells
    the two kinds apart by :attr:`full_batch`:

    - a *step* optimizer (``full_batch = False``; :class:`StepOptimizer`:
      SGD, Adam, AdamW) updates the parameters from one batch's gradient at
      a time. ``fit`` calls :meth:`check` once, then ``step(params, grad)``
      per batch, and :meth:`state_dict` / :meth:`load_state_dict` to replay
      an epoch that diverged;
    - a *full-batch* optimizer (``full_batch = True``; :class:`~matnn.LBFGS`)
      runs the whole training itself: ``fit`` calls :meth:`check`, then
      ``optimizer.train(run, X, Y, callback)`` with the network's run (see
      :class:`matnn.training.Run`), which returns the :class:`~matnn.History`.

    Parameters
    ----------
    **hyperparameters
        Validated values, by name; :meth:`__repr__` shows them.
    """

    #: False for a step optimizer, True for a full-batch one (see above).
    full_batch = False

    def __init__(self, **hyperparameters):
        self._hyper = hyperparameters

    @abc.abstractmethod
    def check(self, params):
        """Raise if ``params``, a model's flat parameters, is not a buffer this optimizer can train."""

    @abc.abstractmethod
    def state_dict(self):
        """The state, as plain numbers and array copies (a dict)."""

    @abc.abstractmethod
    def load_state_dict(self, state):
        """Restore a state from :meth:`state_dict`."""

    def __repr__(self):
        args = ", ".join(f"{name}={_show(v)}" for name, v in self._hyper.items())
        return f"{type(self).__name__}({args})"


class StepOptimizer(Optimizer):
    """Base of the optimizers that update a flat parameter buffer step by step.

    A subclass validates its hyperparameters in ``__init__`` and passes them
    to ``super().__init__``; it names its state buffers in
    ``_buffer_names`` and builds the update itself in :meth:`_kernel`.
    Everything else (state, binding to a parameter buffer, member
    selection) lives here.

    Attributes
    ----------
    n_members : int or None
        The number of members the per-member hyperparameters (or the state)
        are for; None when every hyperparameter is one number and there is no
        ensemble state yet.
    """

    #: Parameters whose value must stay nonzero in the parameters' dtype.
    _nonzero = ("learning_rate",)
    #: The state buffers, by PyTorch's names, each shaped like the parameters.
    _buffer_names = ()

    def __init__(self, **hyperparameters):
        super().__init__(**hyperparameters)
        self._members_of(hyperparameters)
        self.reset()

    # Every step optimizer has these two; each subclass adds its own.
    @property
    def learning_rate(self):
        return self._hyper["learning_rate"]

    @property
    def weight_decay(self):
        return self._hyper["weight_decay"]

    @abc.abstractmethod
    def _kernel(self, params):
        """The update ``(params, grad) -> None`` for buffers of ``params``' layout.

        Called when the optimizer binds to a buffer, with its state
        allocated; the update runs on every step and may use ``grad`` as
        scratch.
        """

    def _members_of(self, hyper):
        """Check that the per-member hyperparameters agree on the member count, and keep it."""
        sizes = {name: np.shape(v)[-1] for name, v in _flat_items(hyper) if np.ndim(v)}
        if len(set(sizes.values())) > 1:
            listed = ", ".join(f"{name} has {k}" for name, k in sizes.items())
            raise ValueError(
                f"per-member hyperparameters must all have one value per member; {listed}"
            )
        self._n_hyper = next(iter(sizes.values()), None)

    # -- what a training loop calls -------------------------------------------

    def step(self, params, grad):
        """Update ``params`` in place from ``grad``.

        Parameters
        ----------
        params : ndarray of shape (n_params,) or (n_params, n_members)
            float32 or float64. The first step allocates the state for this
            shape and dtype; the optimizer then belongs to buffers of that
            layout, and another layout raises ValueError (see :meth:`reset`).
        grad : ndarray, same shape and dtype as ``params``
            The gradient of the loss at ``params``. It is used as scratch
            and overwritten.
        """
        # Checking the buffers once, then only their identity, keeps
        # validation out of the per-step cost.
        if params is not self._params or grad is not self._grad:
            self._bind(params, grad)
        self._t += 1
        self._update(params, grad)

    def check(self, params):
        """Raise if ``params`` is not a buffer this optimizer can update.

        Parameters
        ----------
        params : ndarray of shape (n_params,) or (n_params, n_members)

        Raises
        ------
        TypeError
            ``params`` is not a float32 or float64 ndarray.
        ValueError
            Its shape does not fit the per-member hyperparameters or the
            optimizer's state, it is read-only, or (float32) a rate rounds
            to 0 in its dtype.
        """
        if not isinstance(params, np.ndarray):
            raise TypeError(f"params must be a numpy array, got {type(params).__name__}")
        if params.dtype not in FLOAT_DTYPES:
            raise TypeError(f"params must be float32 or float64, got {params.dtype}")
        if params.ndim not in (1, 2):
            raise ValueError(
                "params must have shape (n_params,) or (n_params, n_members), "
                f"got shape {params.shape}"
            )
        if not params.flags.writeable:
            raise ValueError("params is read-only; the optimizer updates it in place")
        k = self._n_hyper
        if k is not None and (params.ndim != 2 or params.shape[1] != k):
            raise ValueError(
                f"the hyperparameters are given per member for {k} members, so params "
                f"must have shape (n_params, {k}); got shape {params.shape}"
            )
        if self._layout is not None and self._layout != (params.shape, params.dtype):
            shape, dtype = self._layout
            raise ValueError(
                f"this optimizer holds state for parameters of shape {shape} and dtype "
                f"{dtype}, but params has shape {params.shape} and dtype {params.dtype}: "
                "an optimizer belongs to one network; make a new one, or call reset()"
            )
        if self._t is not None and np.shape(self._t) != params.shape[1:]:
            raise ValueError(
                f"this optimizer holds step counts for {_members(self._t)}, but params "
                f"has shape {params.shape}; make a new optimizer, or call reset()"
            )
        for name, value in _flat_items(self._hyper):
            if name.split("[")[0] in self._nonzero:
                zero = np.flatnonzero(np.atleast_1d(value).astype(params.dtype) == 0)
                if zero.size:
                    where = name if np.ndim(value) == 0 else f"{name}[{zero[0]}]"
                    raise ValueError(
                        f"{where}={np.atleast_1d(value)[zero[0]]} rounds to 0 in {params.dtype}, "
                        f"so a step would change nothing; use a larger {name} or float64 "
                        "parameters"
                    )

    # -- state -------------------------------------------------------------------

    def reset(self):
        """Forget the state: the next step starts afresh, on any layout."""
        self._t = None
        self._buffers = {}
        self._layout = None
        self._unbind()

    def state_dict(self):
        """The state, as plain numbers and array copies.

        Returns
        -------
        dict
            Empty before the first step. Afterwards ``"step"`` (the number
            of steps taken: an int for a network, an int64 array of shape
            (n_members,) for an ensemble, whose members may have taken
            different numbers) and each state buffer, of the parameters'
            shape and dtype, under PyTorch's name for it.
        """
        if self._t is None:
            return {}
        step = self._t if isinstance(self._t, int) else self._t.copy()
        return {"step": step, **{name: b.copy() for name, b in self._buffers.items()}}

    def load_state_dict(self, state):
        """Restore a state from :meth:`state_dict` (copied; an empty dict resets).

        Raises
        ------
        TypeError, ValueError
            A key is missing or unexpected, or a value has the wrong type,
            shape or dtype.
        """
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from state_dict(), got {type(state).__name__}")
        if not state:
            self.reset()
            return
        expected = {"step", *self._buffer_names}
        if set(state) != expected:
            missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
            raise ValueError(
                f"{type(self).__name__} state needs the keys {sorted(expected)}; "
                f"missing {missing}, unexpected {extra}"
            )
        t = _check_step(state["step"])
        buffers = {}
        for name in self._buffer_names:
            b = state[name]
            if not isinstance(b, np.ndarray) or b.dtype not in FLOAT_DTYPES:
                raise TypeError(f"state[{name!r}] must be a float32 or float64 array")
            if b.shape[1:] != np.shape(t) or b.ndim != np.ndim(t) + 1:
                raise ValueError(
                    f"state[{name!r}] has shape {b.shape}, which does not fit the step "
                    f"counts for {_members(t)}"
                )
            buffers[name] = np.array(b)
        layouts = {(b.shape, b.dtype) for b in buffers.values()}
        if len(layouts) > 1:
            raise ValueError(f"the state buffers differ in shape or dtype: {sorted(map(str, layouts))}")
        k = self._n_hyper
        if k is not None and np.shape(t) != (k,):
            raise ValueError(
                f"the hyperparameters are given per member for {k} members, but the "
                f"state is for {_members(t)}"
            )
        self._t, self._buffers = t, buffers
        self._layout = layouts.pop() if layouts else None
        self._unbind()

    def copy(self):
        """An independent optimizer with the same hyperparameters and a copy of the state."""
        new = copy.copy(self)
        new.load_state_dict(self.state_dict())
        return new

    # -- ensemble members ---------------------------------------------------------

    @property
    def n_members(self):
        if self._n_hyper is not None:
            return self._n_hyper
        return None if self._t is None or isinstance(self._t, int) else self._t.size

    def select(self, keep):
        """The optimizer of the members where ``keep`` is True.

        Parameters
        ----------
        keep : array-like of bool, shape (n_members,)

        Returns
        -------
        Optimizer
            Of the same class, with those members' hyperparameters and a copy
            of their state; it steps a buffer of shape (n_params, keep.sum()).
            Its steps do not touch this optimizer until :meth:`merge`.
        """
        keep = self._check_mask(keep, "keep")
        if isinstance(self._t, int):
            raise ValueError("select() needs an ensemble's optimizer; this one holds a network's state")
        new = copy.copy(self)
        new._hyper = {name: _take(v, keep) for name, v in self._hyper.items()}
        new._members_of(new._hyper)
        new.reset()
        if self._t is not None:
            new.load_state_dict({
                "step": self._t[keep],
                **{name: b[:, keep] for name, b in self._buffers.items()},
            })
        return new

    def merge(self, keep, other):
        """Write the state of ``other`` into the members where ``keep`` is True.

        Parameters
        ----------
        keep : array-like of bool, shape (n_members,)
            The mask ``other`` was selected with.
        other : Optimizer
            Usually ``self.select(keep)``, stepped since. Only its state is
            copied; the hyperparameters stay this optimizer's.
        """
        keep = self._check_mask(keep, "keep")
        if type(other) is not type(self):
            raise TypeError(f"other must be a {type(self).__name__}, got {type(other).__name__}")
        if isinstance(self._t, int):
            raise ValueError("merge() needs an ensemble's optimizer; this one holds a network's state")
        theirs = other.state_dict()
        if not theirs:
            return
        count = int(keep.sum())
        if np.shape(theirs["step"]) != (count,):
            raise ValueError(
                f"other holds state for {_members(theirs['step'])}, but keep selects {count}"
            )
        if self._t is None:
            self._t = np.zeros(keep.size, np.int64)
            if self._buffer_names:
                ref = theirs[self._buffer_names[0]]
                shape = (ref.shape[0], keep.size)
                self._buffers = {name: np.zeros(shape, ref.dtype) for name in self._buffer_names}
                self._layout = (shape, ref.dtype)
        if self._buffer_names:
            (n_params, _), dtype = self._layout
            ref = theirs[self._buffer_names[0]]
            if ref.shape != (n_params, count) or ref.dtype != dtype:
                raise ValueError(
                    f"other holds state of shape {ref.shape} and dtype {ref.dtype}; the "
                    f"selected members need shape {(n_params, count)} and dtype {dtype}"
                )
        self._t[keep] = theirs["step"]
        for name, b in self._buffers.items():
            b[:, keep] = theirs[name]
        self._unbind()

    def _check_mask(self, keep, name):
        keep = np.asarray(keep)
        if keep.dtype != bool or keep.ndim != 1:
            raise TypeError(f"{name} must be a 1-D boolean mask, got dtype {keep.dtype} and shape {keep.shape}")
        k = self.n_members
        if k is not None and keep.shape != (k,):
            raise ValueError(f"{name} must have shape ({k},), one entry per member; got {keep.shape}")
        return keep

    # -- internals ----------------------------------------------------------------------

    def _bind(self, params, grad):
        """Check ``params`` and ``grad``, allocate the state, build the update."""
        self.check(params)
        if not isinstance(grad, np.ndarray) or grad.shape != params.shape or grad.dtype != params.dtype:
            raise ValueError(
                f"grad must be an array of params' shape {params.shape} and dtype {params.dtype}, "
                f"got {getattr(grad, 'shape', type(grad).__name__)} "
                f"{getattr(grad, 'dtype', '')}".rstrip()
            )
        if not grad.flags.writeable or np.may_share_memory(grad, params):
            raise ValueError("grad must be a writeable array of its own: the step uses it as scratch")
        if self._t is None:
            self._t = 0 if params.ndim == 1 else np.zeros(params.shape[1], np.int64)
        if self._layout is None:
            self._buffers = {name: np.zeros_like(params) for name in self._buffer_names}
            self._layout = (params.shape, params.dtype)
        self._update = self._kernel(params)
        self._params, self._grad = params, grad

    def _unbind(self):
        self._params = self._grad = self._update = None


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

    def __init__(self, learning_rate, momentum=0.0, nesterov=False, weight_decay=0.0):
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
    def momentum(self):
        return self._hyper["momentum"]

    @property
    def nesterov(self):
        return self._hyper["nesterov"]

    def _kernel(self, params):
        dtype = params.dtype
        # In the parameters' dtype, so a float32 network steps in float32; a
        # 0-d array is what numpy would convert the float to on every call.
        rate = np.array(self.learning_rate, dtype)
        multiply, add, subtract = np.multiply, np.add, np.subtract
        if _is_zero(self.weight_decay) and _is_zero(self.momentum):
            # The lesson's rule, with the gradient as scratch.
            def plain(p, g):
                multiply(g, rate, g)
                subtract(p, g, p)

            return plain
        decay = None if _is_zero(self.weight_decay) else np.array(self.weight_decay, dtype)
        buf = self._buffers.get("momentum_buffer")
        mu = None if buf is None else np.array(self.momentum, dtype)
        nesterov = self.nesterov
        scratch = np.empty_like(params)

        def update(p, g):
            if decay is not None:
                multiply(p, decay, scratch)
                add(g, scratch, g)
            if buf is not None:
                multiply(buf, mu, buf)
                add(buf, g, buf)
                if nesterov:
                    multiply(buf, mu, scratch)
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

    def __init__(self, learning_rate=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
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
    def betas(self):
        return self._hyper["betas"]

    @property
    def eps(self):
        return self._hyper["eps"]

    def _kernel(self, params):
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

        def update(p, g):
            t = self._t
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

    def __init__(self, learning_rate=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(learning_rate, betas, eps, weight_decay)


def _flat_items(hyper):
    """``(name, value)`` for every numeric hyperparameter, ``betas`` split in two."""
    for name, value in hyper.items():
        if isinstance(value, tuple):
            yield from ((f"{name}[{i}]", v) for i, v in enumerate(value))
        elif not isinstance(value, bool):
            yield name, value


def _take(value, keep):
    """The members ``keep`` selects of one hyperparameter (one number stays one)."""
    if isinstance(value, tuple):
        return tuple(_take(v, keep) for v in value)
    if isinstance(value, np.ndarray):
        taken = value[keep]
        taken.flags.writeable = False
        return taken
    return value


def _is_zero(value):
    """True for the single number 0 (a per-member array always takes the general path)."""
    return not isinstance(value, np.ndarray) and value == 0


def _check_step(step):
    """A loaded step count: an int >= 0, or an int array of shape (n_members,)."""
    if isinstance(step, np.ndarray):
        if step.dtype.kind not in "iu" or step.ndim != 1 or (step < 0).any():
            raise ValueError(
                "state['step'] must be an int >= 0 or an array of such ints of shape "
                f"(n_members,), got an array of dtype {step.dtype} and shape {step.shape}"
            )
        return step.astype(np.int64)
    return check_int(step, "state['step']", 0)


def _members(t):
    """'a network' or 'K members', for a step count."""
    return "a network" if np.ndim(t) == 0 else f"{np.size(t)} members"


def _show(value):
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return repr(value.tolist() if isinstance(value, np.ndarray) else value)
