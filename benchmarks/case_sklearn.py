"""The drop-in: matnn.sklearn's MLPClassifier against scikit-learn's, a whole fit each.

Both estimators get the same parameters: the 8x8 digits' training set,
64 tanh hidden units, batch 32, 20 epochs, shuffled every epoch, with
scikit-learn's sgd (momentum 0.9, Nesterov) or adam, and the same
``random_state``; both run on one thread (``threadpoolctl``). Before timing,
one fit of each must give the same ``coefs_``, ``intercepts_`` and
``loss_curve_``: the drop-in reproduces scikit-learn's start, shuffles,
losses and updates, so the timed calls do the same work. A timed call is a
whole ``fit``, input validation and all.

The table's times are wall-clock. On a shared machine a process waits for
the cores, and that waiting lands on whichever side runs then, so the
metrics also give each side's thread CPU time (``time.thread_time``, the
fits interleaved the same way), which waiting does not count, and each
side's spread: ``(slowest - fastest) / median`` of its runs.

What the sklearn path adds to the engine's step, and what it costs (thread
CPU time on a shared 2-core AMD EPYC, float64 unless said; these
measured gains are why the code does it this way):

- each epoch's reshuffle draws ``RandomState.permutation`` and indexes the
  previous order with it, the draw ``sklearn.utils.shuffle`` makes, without
  that function's checks: 14 us an epoch instead of 107 us;
- the passes divide the output deltas by the batch's total weight (the
  multiply they make anyway) and the L2 term is ``alpha / total`` times
  ``W``, so the gradient needs no division of its own: 2.3 us less per step;
- the training labels become 0/1 rows by comparing them with ``classes_``
  (the label binarizer's transform would identify the target's type again):
  13 us instead of 594 us a fit, and for every ``partial_fit`` call;
- a float32 network's Adam steps in float32 (scikit-learn forms the step in
  float64 and casts it back): its update takes 13.3 us instead of 18.3 us;
- the run trains its parameters in scikit-learn's layout, ``coef`` of shape
  (n_in, n_out) then ``intercept``, and a dense ``X`` carries a column of
  ones, so the first layer's affine and its gradient are one product each
  (on the network's own layout, ``X @ W.T`` plus the bias, ``D.T @ X`` and
  ``ones @ D``): a whole fit takes 39.3 ms instead of 42.3 (float32: 29.0
  instead of 32.1; adam 48.3 instead of 51.5, float32 34.3 instead of 36.4);
- m and v of Adam stacked in one (2, n_params) buffer, so that one
  multiply and one add update both, save nothing measurable (19.7 us a
  step either way);
- the updates and the L2 term call BLAS's ``scal``, ``axpy`` and ``dot``
  (``scipy.linalg.get_blas_funcs``): one call, and one rounding, per
  multiply-add over the parameters, where numpy takes two calls. The sgd
  update takes 3.9 us instead of 6.5 (float32 2.3 instead of 5.2), adam's
  17.0 instead of 18.5 (float32 9.2 instead of 13.8); a whole fit 36.9 ms
  of CPU time instead of 39.0 (float32 27.0 instead of 29.2; adam 44.2
  instead of 48.6, float32 31.4 instead of 34.2).

A float64 sgd step of the run costs about 46 us: the forward pass 20 (the
first layer's product 5, tanh 4, the softmax's five ufuncs 8), the
batch's loss 3 (the clipped log of the outputs), the backward pass 14, the
L2 term and the glue 5, the update 4 (adam 17, of which ``sqrt`` over the
4810 parameters takes 6).

The lower bound. The metrics ``bound_s_per_fit`` (wall) and
``bound_cpu_s_per_fit`` (thread CPU) time the bare kernels of one step as
the run calls them (the products, tanh and its derivative, the softmax's
ufuncs, the loss's, the L2 term's and the update's) back to back on
buffers of the same shapes, with no framework, times the fit's 680 steps,
and nothing else: no input validation, no shuffles, the same batch every
step. Before timing, that step must compute the run's loss and gradient.
``sklearn_over_bound`` (and ``sklearn_cpu_over_bound``) is the most any
code calling these kernels could gain on scikit-learn here: about 4.1 for
sgd and 3.6 for adam in float64, 5.3 to 5.5 in float32 (bounds of 28 and
36 ms a fit, float32 20 and 25). ``matnn_over_bound`` is how far matnn is
from it, 1.2 to 1.4: a fit's input validation, start and shuffles, and
Python between the kernels.
"""

import math
import statistics
import time
import warnings

import numpy as np
from scipy.linalg import get_blas_funcs

from .harness import Result

TITLE = "the digits, 64-64-10 tanh, batch 32: sklearn's MLPClassifier.fit vs matnn.sklearn's"
ORDER = 65

HIDDEN, BATCH, SEED = 64, 32, 0
EPOCHS, QUICK_EPOCHS = 20, 1
LEARNING_RATES = {"sgd": 0.05, "adam": 3e-3}


def run(bench):
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier as SklearnClassifier

        from matnn import digits
        from matnn.sklearn import MLPClassifier
    except ImportError as exc:
        print(f"  skipped: {exc}")
        return
    from threadpoolctl import threadpool_limits

    split = digits.load(SEED)
    epochs = QUICK_EPOCHS if bench.quick else EPOCHS
    with threadpool_limits(limits=1), warnings.catch_warnings():
        # Stopping after max_iter epochs is the plan, not a problem.
        warnings.simplefilter("ignore", ConvergenceWarning)
        for solver in LEARNING_RATES:
            for dtype in bench.dtypes:
                X = split.X_train.astype(dtype)
                y = split.y_train
                params = dict(hidden_layer_sizes=(HIDDEN,), activation="tanh", solver=solver,
                              batch_size=BATCH, learning_rate_init=LEARNING_RATES[solver],
                              max_iter=epochs, random_state=SEED)
                theirs, ours = SklearnClassifier(**params), MLPClassifier(**params)
                yield _compare(bench, theirs, ours, X, y, solver, dtype, epochs)


def _bound(ours, X, y, solver):
    """The bare numpy kernels of one step, and a check that they compute the run's gradient.

    The kernels are those the run calls for a batch of the digits, in its
    layout (the first layer folded with a column of ones), called back to
    back on buffers of the same shapes, with no framework between them.

    Returns
    -------
    step : callable () -> None
        One step: forward, loss, backward, L2 term, update.
    expected, got : ndarray
        The run's gradient and loss for the batch, and the kernels'.
    """
    from matnn.sklearn._training import OBJECTIVES, SklearnRun

    run = SklearnRun(ours.network_, None, BATCH, OBJECTIVES["log_loss"], ours.alpha)
    dtype = run.params.dtype
    X1 = run.inputs(X[:BATCH])
    Y = (y[:BATCH, None] == ours.classes_).astype(dtype)
    loss = run.loss_and_gradient(X[:BATCH], Y)
    expected = np.append(run.grad, loss)

    n_in, n_hidden, n_out = ours.network_.sizes
    rows, fold = BATCH, (n_in + 1) * n_hidden
    p, g = run.params.copy(), np.empty_like(run.params)
    block, coef, b = (p[:fold].reshape(n_in + 1, n_hidden),
                      p[fold:-n_out].reshape(n_hidden, n_out), p[-n_out:])
    dblock, dcoef, db = (g[:fold].reshape(n_in + 1, n_hidden),
                         g[fold:-n_out].reshape(n_hidden, n_out), g[-n_out:])
    A0, D0, T0 = (np.empty((rows, n_hidden), dtype) for _ in range(3))
    Z1, P, D1, S = (np.empty((rows, n_out), dtype) for _ in range(4))
    ones = np.ones(rows, dtype)
    scal, axpy, blas_dot = get_blas_funcs(("scal", "axpy", "dot"), (p,))
    decay = ours.alpha / rows
    l2_pairs = [(block[:-1].reshape(-1), dblock[:-1].reshape(-1)),
                (coef.reshape(-1), dcoef.reshape(-1))]
    eps, one = np.finfo(dtype).eps, dtype.type(1)
    dot, add, subtract, multiply, divide = np.dot, np.add, np.subtract, np.multiply, np.divide
    tanh, exp, log, sqrt, vdot = np.tanh, np.exp, np.log, np.sqrt, np.vdot
    row_max, row_sum = np.maximum.reduce, np.add.reduce

    def loss_and_gradient():
        dot(X1, block, A0)
        tanh(A0, A0)
        dot(A0, coef, Z1)
        add(Z1, b, Z1)
        subtract(Z1, row_max(Z1, axis=1, keepdims=True), P)
        exp(P, P)
        divide(P, row_sum(P, axis=1, keepdims=True), P)
        np.maximum(P, eps, out=S)
        np.minimum(S, 1 - eps, out=S)
        log(S, S)
        loss = -float(vdot(S, Y)) / rows
        subtract(P, Y, D1)
        multiply(D1, 1 / rows, D1)
        dot(A0.T, D1, dcoef)
        dot(ones, D1, db)
        dot(D1, coef.T, D0)
        multiply(A0, A0, T0)
        subtract(one, T0, T0)
        multiply(D0, T0, D0)
        dot(X1.T, D0, dblock)
        squares = 0.0
        for w, dw in l2_pairs:
            axpy(w, dw, a=decay)
            squares += float(blas_dot(w, w))
        return loss + 0.5 * decay * squares

    loss = loss_and_gradient()
    got = np.append(g, loss)
    rate = LEARNING_RATES[solver]
    s1 = np.empty_like(p)
    if solver == "sgd":
        mu, v = 0.9, np.zeros_like(p)

        def update():
            scal(mu, v)
            axpy(g, v, a=-rate)
            axpy(v, p, a=mu)
            axpy(g, p, a=-rate)
    else:
        beta1, beta2, t = 0.9, 0.999, [0]
        m, v = np.zeros_like(p), np.zeros_like(p)

        def update():
            t[0] += 1
            scal(beta1, m)
            axpy(g, m, a=1 - beta1)
            multiply(g, g, g)
            scal(beta2, v)
            axpy(g, v, a=1 - beta2)
            size = rate * math.sqrt(1 - beta2 ** t[0]) / (1 - beta1 ** t[0])
            sqrt(v, s1)
            add(s1, 1e-8, s1)
            divide(m, s1, s1)
            axpy(s1, p, a=-size)

    def step():
        loss_and_gradient()
        update()

    return step, expected, got


def _flat(clf):
    return np.concatenate([a.ravel() for a in clf.coefs_ + clf.intercepts_] + [clf.loss_curve_])


def _cpu_times(fits, repeat):
    """Each fit's thread CPU seconds, ``repeat`` times, the fits interleaved."""
    runs = [[] for _ in fits]
    for _ in range(repeat):
        for fit, times in zip(fits, runs):
            start = time.thread_time()
            fit()
            times.append(time.thread_time() - start)
    return runs


def _spread(runs):
    return (max(runs) - min(runs)) / statistics.median(runs)


def _compare(bench, theirs, ours, X, y, solver, dtype, epochs):
    theirs.fit(X, y)
    ours.fit(X, y)
    # float32 rounds differently in the two orders of operations.
    rtol, atol = (1e-8, 1e-10) if dtype == np.float64 else (1e-3, 1e-4)
    agreed, how = bench.agree(_flat(theirs), _flat(ours), rtol=rtol, atol=atol)
    size = f"{solver}, {epochs} epoch{'s' * (epochs != 1)}, {X.shape[0]} samples"
    if not agreed:
        return Result("digits fit", np.dtype(dtype).name, size, agreed, how)
    step, expected, got = _bound(ours, X, y, solver)
    bound_agreed, bound_how = bench.agree(expected, got, rtol=rtol, atol=atol)
    if not bound_agreed:
        return Result("digits fit", np.dtype(dtype).name, size, False,
                      f"the bound's step: {bound_how}")
    steps = epochs * -(-X.shape[0] // BATCH)

    def bound_fit():
        for _ in range(steps):
            step()

    fits = (lambda: theirs.fit(X, y)), (lambda: ours.fit(X, y))
    a, b = bench.time_pair(fits[0], "sklearn MLPClassifier.fit",
                           fits[1], "matnn.sklearn MLPClassifier.fit")
    cpu_a, cpu_b = _cpu_times(fits, bench.repeat)
    bound = bench.time(step, "the bare kernels of one step").median * steps
    bound_cpu = statistics.median(_cpu_times([bound_fit], bench.repeat)[0])
    return Result(
        "digits fit", np.dtype(dtype).name, size, agreed, how,
        n_samples=X.shape[0] * epochs, a=a, b=b, target=(">=", 4),
        metrics={"sklearn_s_per_fit": a.median, "matnn_s_per_fit": b.median,
                 "wall_spread_sklearn": _spread(a.runs), "wall_spread_matnn": _spread(b.runs),
                 "sklearn_cpu_s_per_fit": statistics.median(cpu_a),
                 "matnn_cpu_s_per_fit": statistics.median(cpu_b),
                 "cpu_ratio": statistics.median(cpu_a) / statistics.median(cpu_b),
                 "cpu_spread_sklearn": _spread(cpu_a), "cpu_spread_matnn": _spread(cpu_b),
                 "bound_s_per_fit": bound, "bound_cpu_s_per_fit": bound_cpu,
                 "sklearn_over_bound": a.median / bound,
                 "sklearn_cpu_over_bound": statistics.median(cpu_a) / bound_cpu,
                 "matnn_over_bound": b.median / bound,
                 "sklearn_accuracy": float(theirs.score(X, y)),
                 "matnn_accuracy": float(ours.score(X, y))},
    )
