"""L-BFGS: full-batch training through scipy.

The lesson steps after every sample; L-BFGS is the other end: every step
sees all the data, and scipy's ``L-BFGS-B`` chooses the steps from the loss,
its gradient and a memory of the last few gradients. :class:`LBFGS` is an
:class:`~matnn.Optimizer` with ``full_batch = True``: ``fit`` hands it the
whole run (:meth:`LBFGS.train`) instead of stepping it batch by batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import scipy.optimize

from .history import History
from .optimizer_base import Optimizer
from .diagnostics import TrainingDiverged, warn_if_worse
from .training import EpochRecord, callback_stops
from .validation import as_array, check_int, check_real
from ._typing import ArrayLike, EpochCallback, FloatArray, NDArray

if TYPE_CHECKING:
    from .network_run import _NetworkRun

__all__ = ["LBFGS", "LBFGSResult"]


@dataclass(frozen=True)
class LBFGSResult:
    """What one :meth:`LBFGS.minimize` run did.

    Attributes
    ----------
    x : ndarray of shape (n_params,), float64
        The final parameters.
    loss : ndarray of shape (nit,), float64
        The loss after each iteration (scipy's callback sees every one).
    success : bool
        Whether scipy reports convergence.
    message : str
        scipy's reason for stopping.
    nit : int
        Iterations run.
    nfev : int
        Evaluations of the loss and gradient.
    """

    x: np.ndarray
    loss: np.ndarray
    success: bool
    message: str
    nit: int
    nfev: int


class LBFGS(Optimizer):
    """Full-batch L-BFGS through ``scipy.optimize.minimize(method="L-BFGS-B")``.

    As scikit-learn's ``lbfgs`` solver does, the loss over all the data and
    its gradient with respect to the flat parameter vector go to scipy, with
    ``maxiter=max_iter``, ``gtol=tol`` and every other option at scipy's
    default, so it stops exactly where scipy would.

    It has no ``step``: one :meth:`minimize` call is a whole training run.
    Its curvature memory lives inside that call, so there is no state to keep
    between runs: :meth:`state_dict` is empty and a second run restarts from
    the parameters the first one reached (as scikit-learn's ``warm_start``
    does with lbfgs).

    Parameters
    ----------
    max_iter : int >= 1
    tol : float >= 0
        scipy's ``gtol``: stop when every gradient component's magnitude
        (of the projected gradient) is at most ``tol``.
    """

    full_batch = True

    def __init__(self, max_iter: int = 200, tol: float = 1e-5) -> None:
        super().__init__(max_iter=check_int(max_iter, "max_iter", 1),
                         tol=check_real(tol, "tol", 0.0))

    @property
    def max_iter(self) -> int:
        return self._hyper["max_iter"]

    @property
    def tol(self) -> float:
        return self._hyper["tol"]

    def check(self, params: FloatArray) -> None:
        """Raise unless ``params`` is one network's flat parameters, shape (n_params,)."""
        if not isinstance(params, np.ndarray) or params.ndim != 1:
            raise ValueError("L-BFGS trains one network at a time; fit each member with it")

    def minimize(
        self,
        fun: Callable[[NDArray[np.float64]], tuple[float, ArrayLike]],
        x0: ArrayLike,
        callback: Callable[[int, float, NDArray[np.float64]], object] | None = None,
    ) -> LBFGSResult:
        """Minimise ``fun`` from ``x0``.

        Parameters
        ----------
        fun : callable ``x -> (loss, grad)``
            ``x`` and ``grad`` of shape (n_params,), float64; ``loss`` a float.
            The gradient is copied, so ``fun`` may return a buffer it reuses.
        x0 : array-like of shape (n_params,)
        callback : callable ``(iteration, loss, x) -> bool``, optional
            Called after every iteration (0-based) with its loss and
            parameters (do not modify ``x``); returning True stops the run
            (scipy then reports ``success=False``).

        Returns
        -------
        LBFGSResult
        """
        if not callable(fun):
            raise TypeError(f"fun must be callable, got {fun!r}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        x0 = as_array(x0, "x0", np.float64)
        if x0.ndim != 1:
            raise ValueError(f"x0 must be a flat vector of shape (n_params,), got shape {x0.shape}")
        losses = []

        def loss_and_grad(x: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            loss, grad = fun(x)
            grad = np.array(grad, np.float64)
            if grad.shape != x.shape:
                raise ValueError(f"fun returned a gradient of shape {grad.shape}, expected {x.shape}")
            return float(loss), grad

        # scipy passes the current iterate to a callback whose parameter is
        # named ``intermediate_result``, and stops on StopIteration.
        def record(intermediate_result: scipy.optimize.OptimizeResult) -> None:
            losses.append(float(intermediate_result.fun))
            if callback is not None and callback(len(losses) - 1, losses[-1], intermediate_result.x):
                raise StopIteration

        result = scipy.optimize.minimize(
            loss_and_grad, x0, method="L-BFGS-B", jac=True, callback=record,
            options={"maxiter": self.max_iter, "gtol": self.tol},
        )
        return LBFGSResult(
            x=result.x, loss=np.array(losses), success=bool(result.success),
            message=str(result.message), nit=int(result.nit), nfev=int(result.nfev),
        )

    def state_dict(self) -> dict[str, Any]:
        """``{}``: L-BFGS keeps nothing between :meth:`minimize` calls."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Accept only the empty state :meth:`state_dict` returns."""
        if state != {}:
            raise ValueError("LBFGS has no state to load; state must be {}")

    def train(
        self,
        run: _NetworkRun,
        X: FloatArray,
        Y: FloatArray,
        callback: EpochCallback | None,
        log_every: int | None = None,
    ) -> History:
        """Train ``run``'s network on all of ``X`` until scipy stops: ``fit``'s L-BFGS path.

        Parameters
        ----------
        run : matnn.training.Run
            A network's run; its ``objective`` is the loss and gradient
            handed to scipy (a subclass's own ``loss`` and ``gradients`` when
            it overrides them).
        X : ndarray of shape (n_samples, n_in)
        Y : ndarray, the targets as the network's loss takes them
        callback : callable ``EpochRecord -> None | bool``, optional
            Called after every iteration, as :func:`matnn.training.fit`
            describes (``epoch`` is the iteration); returning False stops.
        log_every : int >= 1, optional
            Print ``Iteration %d loss: %.3f`` after every iteration whose
            0-based number is divisible by it.

        Returns
        -------
        History
            ``converged`` and ``message`` are scipy's.

        Raises
        ------
        TrainingDiverged
            The loss is NaN or inf where training starts, or scipy reached
            non-finite parameters or loss; the network keeps the parameters
            it started from.

        Notes
        -----
        scipy evaluates trial points that it may then reject, and each
        evaluation writes its point into the network. If anything stops the
        run part way (Ctrl-C, an error in a subclass's ``loss`` or
        ``gradients``), the network is put back at the last iteration scipy
        accepted, or where it started.
        """
        params = run.params_full()
        objective = run.objective(X, Y)
        stopped: list[Any] = []
        first: list[Any] = []
        # The last iterate scipy accepted (float64, as scipy holds it).
        last = params.astype(np.float64)

        def loss_and_gradient(p: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
            value, gradient = objective(p)
            if not first:
                first.append(value)
                if not np.isfinite(value):
                    raise TrainingDiverged(
                        f"L-BFGS cannot train from here: the loss is {value} at the starting "
                        "parameters (an earlier overflow, or the loss itself); the network "
                        "keeps them", 0, None, np.empty(0))
            return value, gradient

        def after_iteration(iteration: int, loss: float, x: NDArray[np.float64]) -> bool:
            last[...] = x
            if log_every is not None and iteration % log_every == 0:
                print("Iteration %d loss: %.3f" % (iteration, loss))
            if callback is None:
                return False
            # The record's network is at this iteration's parameters; the
            # next evaluation overwrites them anyway.
            params[...] = x
            if callback_stops(callback, EpochRecord(iteration, loss, None, None, None,
                                                    run.model)):
                stopped.append(iteration)
                return True
            return False

        start = params.copy()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            stuck_before = run.stuck(X, Y)
            try:
                result = self.minimize(loss_and_gradient, last.copy(), callback=after_iteration)
            except BaseException:
                params[...] = last
                raise
        if not (np.isfinite(result.x).all() and np.isfinite(result.loss).all()):
            params[...] = start
            raise TrainingDiverged(
                f"L-BFGS reached non-finite parameters or loss ({result.message}); the network "
                "keeps the parameters it started from", len(result.loss), None, result.loss)
        params[...] = result.x
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            stuck = run.stuck(X, Y)
        # From the loss where it started (scipy's first evaluation), which a
        # run stuck there never leaves.
        warn_if_worse(first[0], result.loss[-1] if result.loss.size else first[0], stuck,
                      stuck & stuck_before)
        return History(result.loss, converged=result.success, message=result.message,
                       stopped_early=bool(stopped) and stopped[0] + 1 < self.max_iter)
