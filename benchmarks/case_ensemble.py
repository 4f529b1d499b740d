"""1000 runs of the document's session at once: one Ensemble.fit vs scalar runs.

Run ``s`` is the document's session (4 people, 1000 epochs of batch-1 SGD,
learning rate 0.1) from the nine numbers it draws after
``np.random.seed(s)``. The scalar side trains a subset of the seeds one after
another with the shim; 1000 of those would take over a minute per timed
repeat, so its time per run is measured on the subset and multiplied by the
number of runs (the shim's runs all do the same work, so the time per run
does not depend on the seed). The ensemble side trains every run, building
the :class:`~matnn.Ensemble` inside the timed call. Before timing, the
ensemble's members for the subset's seeds are checked against the shim's
trained parameters.
"""

import contextlib
import io

import numpy as np

from matnn import Ensemble, data
from matnn.scalar import OurNeuralNetwork, from_network
from matnn.seeds import document_networks

from .harness import Result, Timing
from .workloads import as_dtype, shim_params

TITLE = "1000 runs of the document's session as one Ensemble.fit vs scalar shim runs"
ORDER = 35

RUNS, EPOCHS, TIMED_SCALAR_RUNS = 1000, 1000, 20
QUICK_RUNS, QUICK_EPOCHS, QUICK_TIMED_SCALAR_RUNS = 50, 20, 5
LEARNING_RATE = 0.1


def run(bench):
    runs = QUICK_RUNS if bench.quick else RUNS
    epochs = QUICK_EPOCHS if bench.quick else EPOCHS
    subset = QUICK_TIMED_SCALAR_RUNS if bench.quick else TIMED_SCALAR_RUNS
    starts = document_networks(range(runs))
    shims = [from_network(net) for net in starts[:subset]]

    def scalar_runs():
        trained = []
        for shim in shims:
            s = OurNeuralNetwork(**shim.params())
            with contextlib.redirect_stdout(io.StringIO()):
                s.train(data.X, data.y, learn_rate=LEARNING_RATE, epochs=epochs)
            trained.append(s)
        return trained

    expected = np.array([shim_params(s) for s in scalar_runs()])
    timed = bench.time(scalar_runs, f"scalar shim, {subset} runs")
    # The same seconds per run, for all the runs the ensemble trains.
    scale = runs / subset
    scalar = Timing(f"scalar shim, per run x {runs}",
                    timed.median * scale, [t * scale for t in timed.runs], timed.number)
    for dtype in bench.dtypes:
        networks = [as_dtype(net, dtype) for net in starts]
        X, y = data.X.astype(dtype), data.y.astype(dtype)

        def ensemble_runs():
            ensemble = Ensemble(networks)
            ensemble.fit(X, y, epochs=epochs, learning_rate=LEARNING_RATE, batch_size=1, shuffle=False)
            return ensemble

        trained = ensemble_runs()
        got = np.array([net.params for net in trained.networks()[:subset]])
        ok, how = bench.agree(expected, got, **_tolerance(dtype))
        ok = ok and not trained.failed.any()
        yield Result(
            "ensemble", dtype.name, f"{runs} runs x {epochs} epochs x 4", ok, how,
            n_samples=4 * epochs * runs,
            a=scalar if ok else None,
            b=bench.time(ensemble_runs, "Ensemble.fit") if ok else None,
            target=(">=", 100),
            metrics={"timed_scalar_runs": subset,
                     "scalar_seconds_per_run": timed.median / subset},
        )


def _tolerance(dtype):
    """Final parameters after 4000 steps; float32 drifts, as in the session case."""
    if dtype == np.float64:
        return {"rtol": 1e-10, "atol": 1e-12}
    return {"rtol": 1e-3, "atol": 1e-3}
