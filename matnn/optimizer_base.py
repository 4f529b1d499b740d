"""The optimizer interface, and the machinery every step optimizer shares.

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
import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeAlias

import numpy as np

from ._typing import ArrayLike, FloatArray, NDArray
from .validation import FLOAT_DTYPES, check_int

if TYPE_CHECKING:
    from typing_extensions import Self

#: A hyperparameter as given: one number, or one per member (array-like of shape (n_members,)).
HyperLike: TypeAlias = "float | ArrayLike"
#: A hyperparameter as kept: a float, or a read-only float64 array of shape (n_members,).
Hyper: TypeAlias = "float | FloatArray"
#: Step counts: an int for a network, an int64 array of shape (n_members,) for an ensemble.
Steps: TypeAlias = "int | NDArray[np.int64]"
#: One step's update ``(params, grad) -> None``, in place.
Update: TypeAlias = Callable[[FloatArray, FloatArray], None]

__all__ = ["Optimizer", "StepOptimizer"]


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

    def __init__(self, **hyperparameters: Any) -> None:
        self._hyper = hyperparameters

    @abc.abstractmethod
    def check(self, params: FloatArray) -> None:
        """Raise if ``params``, a model's flat parameters, is not a buffer this optimizer can train."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """The state, as plain numbers and array copies (a dict)."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`."""

    def _belongs_to(self, params: FloatArray) -> None:
        """Record that the state (if any) is now that of the model whose buffer is ``params``.

        ``fit`` calls it when a run ends; :meth:`check` then refuses any
        other buffer. An optimizer without state has nothing to record.
        """

    def __repr__(self) -> str:
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

    Notes
    -----
    *One optimizer, one model.* After a ``fit``, the state (step count,
    momentum, moments) is that of the model it trained: a network's
    ``params`` or an ensemble's buffer. Handed another model, even one of
    the same shape, the optimizer refuses it (in :meth:`check`) rather than
    carry one network's moments into another; :meth:`reset` (or a new
    optimizer) starts afresh.
    A state moved on purpose goes where it is put: :meth:`copy`,
    :func:`copy.deepcopy` and pickling give an optimizer that belongs to no
    buffer yet, and so does :meth:`load_state_dict` on a new optimizer.
    """

    #: Parameters whose value must stay nonzero in the parameters' dtype.
    _nonzero: tuple[str, ...] = ("learning_rate",)
    #: The state buffers, by PyTorch's names, each shaped like the parameters.
    _buffer_names: tuple[str, ...] = ()
    _n_hyper: int | None
    _t: Steps | None
    _buffers: dict[str, FloatArray]
    _layout: tuple[tuple[int, ...], np.dtype[Any]] | None
    _params: FloatArray | None
    _grad: FloatArray | None
    _update: Update | None
    #: The buffer the state belongs to, weakly referenced (None: any buffer).
    _owner: weakref.ref[FloatArray] | None

    def __init__(self, **hyperparameters: Any) -> None:
        super().__init__(**hyperparameters)
        self._members_of(hyperparameters)
        self.reset()

    # Every step optimizer has these two; each subclass adds its own.
    @property
    def learning_rate(self) -> Hyper:
        return self._hyper["learning_rate"]

    @property
    def weight_decay(self) -> Hyper:
        return self._hyper["weight_decay"]

    @abc.abstractmethod
    def _kernel(self, params: FloatArray) -> Update:
        """The update ``(params, grad) -> None`` for buffers of ``params``' layout.

        Called when the optimizer binds to a buffer, with its state
        allocated; the update runs on every step and may use ``grad`` as
        scratch.
        """

    def _members_of(self, hyper: dict[str, Any]) -> None:
        """Check that the per-member hyperparameters agree on the member count, and keep it."""
        sizes = {name: np.shape(v)[-1] for name, v in _flat_items(hyper) if np.ndim(v)}
        if len(set(sizes.values())) > 1:
            listed = ", ".join(f"{name} has {k}" for name, k in sizes.items())
            raise ValueError(
                f"per-member hyperparameters must all have one value per member; {listed}"
            )
        self._n_hyper = next(iter(sizes.values()), None)

    # -- what a training loop calls -------------------------------------------

    def step(self, params: FloatArray, grad: FloatArray) -> None:
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
        # _bind has set the step count and the update.
        self._t += 1  # type: ignore[operator]
        self._update(params, grad)  # type: ignore[misc]

    def check(self, params: FloatArray) -> None:
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
            optimizer's state, the state is another model's (see the
            class's Notes), it is read-only, or (float32) a rate rounds to 0
            in its dtype.
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
        if self._t is not None and self._owner is not None and self._owner() is not params:
            raise ValueError(
                "this optimizer holds the state (step count, momentum or moments) of another "
                "model's training and would carry it into this one; call reset() to start "
                "afresh, or make a new optimizer"
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

    def reset(self) -> None:
        """Forget the state: the next step starts afresh, on any buffer."""
        self._t = None
        self._buffers = {}
        self._layout = None
        self._owner = None
        self._unbind()

    def state_dict(self) -> dict[str, Any]:
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

    def load_state_dict(self, state: dict[str, Any]) -> None:
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
        buffers: dict[str, FloatArray] = {}
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

    def copy(self) -> Self:
        """An independent optimizer with the same hyperparameters and a copy of the state.

        The copy belongs to no buffer yet: it continues whichever model it trains next.
        """
        new = copy.copy(self)
        new.load_state_dict(self.state_dict())
        return new

    # -- ensemble members ---------------------------------------------------------

    @property
    def n_members(self) -> int | None:
        if self._n_hyper is not None:
            return self._n_hyper
        return None if self._t is None or isinstance(self._t, int) else self._t.size

    def select(self, keep: ArrayLike) -> Self:
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

    def merge(self, keep: ArrayLike, other: StepOptimizer) -> None:
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
            # A state with buffers has their layout (set just above if it was empty).
            (n_params, _), dtype = self._layout  # type: ignore[misc]
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

    def _check_mask(self, keep: ArrayLike, name: str) -> NDArray[np.bool_]:
        keep = np.asarray(keep)
        if keep.dtype != bool or keep.ndim != 1:
            raise TypeError(f"{name} must be a 1-D boolean mask, got dtype {keep.dtype} and shape {keep.shape}")
        k = self.n_members
        if k is not None and keep.shape != (k,):
            raise ValueError(f"{name} must have shape ({k},), one entry per member; got {keep.shape}")
        return keep

    # -- internals ----------------------------------------------------------------------

    def _bind(self, params: FloatArray, grad: FloatArray) -> None:
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

    def _unbind(self) -> None:
        self._params = self._grad = self._update = None

    def _belongs_to(self, params: FloatArray) -> None:
        if self._t is not None:
            self._owner = weakref.ref(params)

    def __getstate__(self) -> dict[str, Any]:
        # A copy or a pickle holds the state alone: not the update bound to a
        # buffer, nor which buffer trained it (see the class's Notes).
        state = dict(vars(self))
        state.update(_owner=None, _params=None, _grad=None, _update=None)
        return state


def _flat_items(hyper: dict[str, Any]) -> Iterator[tuple[str, Hyper]]:
    """``(name, value)`` for every numeric hyperparameter, ``betas`` split in two."""
    for name, value in hyper.items():
        if isinstance(value, tuple):
            yield from ((f"{name}[{i}]", v) for i, v in enumerate(value))
        elif not isinstance(value, bool):
            yield name, value


def _take(value: Any, keep: NDArray[np.bool_]) -> Any:
    """The members ``keep`` selects of one hyperparameter (one number stays one)."""
    if isinstance(value, tuple):
        return tuple(_take(v, keep) for v in value)
    if isinstance(value, np.ndarray):
        taken = value[keep]
        taken.flags.writeable = False
        return taken
    return value


def _check_step(step: object) -> Steps:
    """A loaded step count: an int >= 0, or an int array of shape (n_members,)."""
    if isinstance(step, np.ndarray):
        if step.dtype.kind not in "iu" or step.ndim != 1 or (step < 0).any():
            raise ValueError(
                "state['step'] must be an int >= 0 or an array of such ints of shape "
                f"(n_members,), got an array of dtype {step.dtype} and shape {step.shape}"
            )
        return step.astype(np.int64)
    return check_int(step, "state['step']", 0)


def _members(t: Steps) -> str:
    """'a network' or 'K members', for a step count."""
    return "a network" if np.ndim(t) == 0 else f"{np.size(t)} members"


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return repr(value.tolist() if isinstance(value, np.ndarray) else value)
