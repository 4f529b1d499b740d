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
  float64 and casts it back): its update takes 13.3 us instead of 18.3 us.

What is left is mostly the engine's: a float64 sgd step of the sklearn run
costs about 55 us, 10 us more than a step of ``Network.fit`` on the same
network with the same optimizer, for the batch's loss (3 us: the clipped
log of the outputs), the L2 term (4 us: three passes over the 4810
parameters) and the glue; of the rest, the forward pass takes 24 us, the
backward pass 14 and the update 7.
"""

import statistics
import time
import warnings

import numpy as np

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
    fits = (lambda: theirs.fit(X, y)), (lambda: ours.fit(X, y))
    a, b = bench.time_pair(fits[0], "sklearn MLPClassifier.fit",
                           fits[1], "matnn.sklearn MLPClassifier.fit")
    cpu_a, cpu_b = _cpu_times(fits, bench.repeat)
    return Result(
        "digits fit", np.dtype(dtype).name, size, agreed, how,
        n_samples=X.shape[0] * epochs, a=a, b=b, target=(">=", 4),
        metrics={"sklearn_s_per_fit": a.median, "matnn_s_per_fit": b.median,
                 "wall_spread_sklearn": _spread(a.runs), "wall_spread_matnn": _spread(b.runs),
                 "sklearn_cpu_s_per_fit": statistics.median(cpu_a),
                 "matnn_cpu_s_per_fit": statistics.median(cpu_b),
                 "cpu_ratio": statistics.median(cpu_a) / statistics.median(cpu_b),
                 "cpu_spread_sklearn": _spread(cpu_a), "cpu_spread_matnn": _spread(cpu_b),
                 "sklearn_accuracy": float(theirs.score(X, y)),
                 "matnn_accuracy": float(ours.score(X, y))},
    )
