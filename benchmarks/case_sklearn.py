"""The drop-in: matnn.sklearn's MLPClassifier against scikit-learn's, a whole fit each.

Both estimators get the same parameters: the 8x8 digits' training set,
64 tanh hidden units, batch 32, 20 epochs, shuffled every epoch, with
scikit-learn's sgd (momentum 0.9, Nesterov) or adam, and the same
``random_state``; both run on one thread (``threadpoolctl``). Before timing,
one fit of each must give the same ``coefs_``, ``intercepts_`` and
``loss_curve_``: the drop-in reproduces scikit-learn's start, shuffles,
losses and updates, so the timed calls do the same work. A timed call is a
whole ``fit``, input validation and all.
"""

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


def _compare(bench, theirs, ours, X, y, solver, dtype, epochs):
    theirs.fit(X, y)
    ours.fit(X, y)
    # float32 rounds differently in the two orders of operations.
    rtol, atol = (1e-8, 1e-10) if dtype == np.float64 else (1e-3, 1e-4)
    agreed, how = bench.agree(_flat(theirs), _flat(ours), rtol=rtol, atol=atol)
    size = f"{solver}, {epochs} epoch{'s' * (epochs != 1)}, {X.shape[0]} samples"
    if not agreed:
        return Result("digits fit", np.dtype(dtype).name, size, agreed, how)
    a, b = bench.time_pair(lambda: theirs.fit(X, y), "sklearn MLPClassifier.fit",
                           lambda: ours.fit(X, y), "matnn.sklearn MLPClassifier.fit")
    return Result(
        "digits fit", np.dtype(dtype).name, size, agreed, how,
        n_samples=X.shape[0] * epochs, a=a, b=b, target=(">=", 4),
        metrics={"sklearn_s_per_fit": a.median, "matnn_s_per_fit": b.median,
                 "sklearn_accuracy": float(theirs.score(X, y)),
                 "matnn_accuracy": float(ours.score(X, y))},
    )
