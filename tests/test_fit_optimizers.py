"""Issue 10 through ``fit``: resuming, early stopping, L-BFGS, bad settings,
divergence, per-member optimizers and the default batch size.

``tests/test_optimizers.py`` checks each update rule against PyTorch's
formulas on bare buffers; here the optimizers run inside ``Network.fit`` and
``Ensemble.fit``, and each test compares with a run written independently
(one long fit, a callback's snapshots, a replay by hand, members fitted alone).
"""

import copy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import matnn
from matnn import LBFGS, SGD, Adam, AdamW, Ensemble, Network, data

X, y = np.asarray(data.X, float), np.asarray(data.y, float)

OPTIMIZERS = {
    "sgd-momentum": lambda: SGD(0.1, momentum=0.9),
    "sgd-nesterov-decay": lambda: SGD(0.1, momentum=0.8, nesterov=True, weight_decay=0.01),
    "adam": lambda: Adam(0.02, weight_decay=0.01),
    "adamw": lambda: AdamW(0.02, weight_decay=0.1),
}


def people(n, seed):
    """``n`` people like the lesson's four: shifted (weight, height), female = 1."""
    rng = np.random.default_rng(seed)
    female = rng.random(n) < 0.5
    weight = np.where(female, rng.normal(125, 12, n), rng.normal(165, 15, n))
    height = np.where(female, rng.normal(63, 3, n), rng.normal(70, 3, n))
    return np.column_stack([weight - 135, height - 66]), female.astype(float)


def flat_gradient(net, Xb, yb):
    """``net.gradients`` flattened in ``params`` order."""
    return np.concatenate([np.concatenate([dW.ravel(), db]) for dW, db in net.gradients(Xb, yb)])


def assert_close(actual, expected, rtol=1e-12):
    """Equal within ``rtol`` of the larger of 1 and the expected magnitude."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


# -- resuming -----------------------------------------------------------------

@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS)
def test_five_epochs_twice_with_one_optimizer_equal_ten_epochs(make):
    split, whole = Network.from_sizes([2, 3, 1], seed=0), Network.from_sizes([2, 3, 1], seed=0)
    # One Generator for both halves: the second fit draws the orders the
    # long fit draws in its epochs 5 to 9.
    order, optimizer = np.random.default_rng(7), make()
    first = split.fit(X, y, epochs=5, optimizer=optimizer, batch_size=1, seed=order)
    second = split.fit(X, y, epochs=5, optimizer=optimizer, batch_size=1, seed=order)
    long = whole.fit(X, y, epochs=10, optimizer=make(), batch_size=1, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(split.params, whole.params)
    np.testing.assert_array_equal(np.concatenate([first.loss, second.loss]), long.loss)
    assert optimizer.state_dict()["step"] == 40


@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS)
def test_an_ensemble_resumes_with_its_optimizer_too(make):
    split = Ensemble.from_sizes([2, 3, 1], 3, seed=0)
    whole = copy.deepcopy(split)
    order, optimizer = np.random.default_rng(7), make()
    split.fit(X, y, epochs=5, optimizer=optimizer, batch_size=2, seed=order)
    split.fit(X, y, epochs=5, optimizer=optimizer, batch_size=2, seed=order)
    whole.fit(X, y, epochs=10, optimizer=make(), batch_size=2, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(split.predict(X), whole.predict(X))
    np.testing.assert_array_equal(optimizer.state_dict()["step"], [20, 20, 20])


@pytest.mark.parametrize("cls", [Adam, AdamW])
def test_a_fresh_adam_starts_fresh(cls):
    # Adam's first step from m = v = 0 is lr * g / (|g| + eps), whatever came before.
    net = Network.from_sizes([2, 3, 1], seed=0)
    used = cls(0.05, weight_decay=0.0)
    net.fit(X, y, epochs=5, optimizer=used, batch_size=4, shuffle=False)
    start, g = net.params.copy(), flat_gradient(net, X, y)
    fresh_step = 0.05 * g / (np.abs(g) + 1e-8)

    fresh = net.copy()
    fresh.fit(X, y, epochs=1, optimizer=cls(0.05, weight_decay=0.0), batch_size=4,
              shuffle=False)
    assert_close(fresh.params, start - fresh_step)
    net.fit(X, y, epochs=1, optimizer=used, batch_size=4, shuffle=False)
    assert np.abs(net.params - (start - fresh_step)).max() > 1e-4  # the moments carried over


def test_a_fresh_momentum_sgd_starts_with_an_empty_buffer():
    net = Network.from_sizes([2, 3, 1], seed=0)
    net.fit(X, y, epochs=5, optimizer=SGD(0.1, momentum=0.9), batch_size=4, shuffle=False)
    start, g = net.params.copy(), flat_gradient(net, X, y)
    net.fit(X, y, epochs=1, optimizer=SGD(0.1, momentum=0.9), batch_size=4, shuffle=False)
    assert_close(net.params, start - 0.1 * g)  # b_1 = g_1


# -- validation and early stopping ------------------------------------------------

def snapshot_run(net, Xt, yt, Xv, yv, **fit):
    """Fit without early stopping; every epoch's parameters and validation loss."""
    params, val = [], []

    def record(epoch_record):
        params.append(net.params.copy())
        val.append(net.loss(Xv, yv))

    net.fit(Xt, yt, callback=record, **fit)
    return params, np.array(val)


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch():
    Xt, yt = people(12, seed=1)
    Xv, yv = people(200, seed=2)
    fit = dict(epochs=60, optimizer=None, batch_size=4, seed=3)
    start = Network.from_sizes([2, 16, 1], seed=0)
    reference = start.copy()
    params, val = snapshot_run(reference, Xt, yt, Xv, yv, **{**fit, "optimizer": Adam(0.05)})

    patience, min_delta = 3, 1e-4
    # The rule written out: patience counts from the last improvement by more
    # than min_delta; the best epoch is the lowest loss up to the stop.
    improved_at, best = None, np.inf
    for epoch, v in enumerate(val):
        if v < best - min_delta:
            improved_at, best = epoch, v
        if epoch - improved_at >= patience:
            stop = epoch
            break
    else:
        pytest.fail("the reference run never runs out of patience; pick other data")
    best_epoch = int(np.argmin(val[:stop + 1]))
    assert 0 < best_epoch < stop < fit["epochs"] - 1

    net = start.copy()
    history = net.fit(Xt, yt, **{**fit, "optimizer": Adam(0.05)}, validation_data=(Xv, yv),
                      patience=patience, min_delta=min_delta, restore_best=True)
    assert history.stopped_early
    assert history.best_epoch == best_epoch
    assert len(history) == len(history.val_loss) == stop + 1
    # fit sums the validation loss in blocks of the training set's size: rounding apart.
    np.testing.assert_allclose(history.val_loss, val[:stop + 1], rtol=1e-14)
    np.testing.assert_array_equal(net.params, params[best_epoch])
    assert net.loss(Xv, yv) == val[best_epoch]


def test_without_restore_best_the_last_epoch_stays():
    Xt, yt = people(12, seed=1)
    Xv, yv = people(200, seed=2)
    reference = Network.from_sizes([2, 16, 1], seed=0)
    net = reference.copy()
    params, val = snapshot_run(reference, Xt, yt, Xv, yv, epochs=8, optimizer=Adam(0.05),
                               batch_size=4, seed=3)
    history = net.fit(Xt, yt, epochs=8, optimizer=Adam(0.05), batch_size=4, seed=3,
                      validation_data=(Xv, yv))
    assert not history.stopped_early
    assert history.best_epoch == int(np.argmin(val))
    np.testing.assert_allclose(history.val_loss, val, rtol=1e-14)
    np.testing.assert_array_equal(net.params, params[-1])


def test_early_stopping_needs_validation_data():
    net = Network.from_sizes([2, 2, 1], seed=0)
    for kw in (dict(patience=3), dict(restore_best=True)):
        with pytest.raises(ValueError, match=f"{next(iter(kw))} needs validation_data"):
            net.fit(X, y, epochs=2, learning_rate=0.1, **kw)


# -- L-BFGS ------------------------------------------------------------------------

def test_lbfgs_reaches_a_small_gradient_on_the_lessons_data():
    net = Network.from_sizes([2, 2, 1], seed=0)
    tol = 1e-6
    history = net.fit(data.X, data.y, optimizer=LBFGS(max_iter=500, tol=tol))
    g = flat_gradient(net, data.X, data.y)
    # scipy's gtol bounds the largest gradient component.
    assert np.abs(g).max() <= tol
    assert history.converged is True
    assert "CONVERGENCE" in history.message
    assert history.loss[-1] == pytest.approx(net.loss(data.X, data.y), rel=1e-12)
    assert net.loss(data.X, data.y) < 1e-3
    emily, frank = net.predict([data.EMILY, data.FRANK])[:, 0]
    assert emily > 0.5 > frank


def test_lbfgs_that_runs_out_of_iterations_says_so():
    net = Network.from_sizes([2, 2, 1], seed=0)
    history = net.fit(data.X, data.y, optimizer=LBFGS(max_iter=3, tol=1e-12))
    assert history.converged is False
    assert len(history) == 3
    assert "LIMIT" in history.message.upper()


@pytest.mark.parametrize("kw, name", [
    (dict(epochs=10), "epochs"),
    (dict(batch_size=2), "batch_size"),
    (dict(patience=2, validation_data=(X, y)), "patience"),
])
def test_lbfgs_takes_no_epochs_or_batches(kw, name):
    net = Network.from_sizes([2, 2, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match=f"L-BFGS .* takes no {name}"):
        net.fit(X, y, optimizer=LBFGS(), **kw)
    np.testing.assert_array_equal(net.params, before)


def test_an_ensemble_refuses_lbfgs():
    with pytest.raises(ValueError, match="L-BFGS trains one network at a time"):
        Ensemble.from_sizes([2, 2, 1], 2, seed=0).fit(X, y, optimizer=LBFGS())


# -- bad settings ----------------------------------------------------------------------

@pytest.mark.parametrize("make, error, match", [
    (lambda: SGD(-0.1), ValueError, r"learning_rate must be a finite number > 0"),
    (lambda: SGD(0.1, momentum=-0.5), ValueError, r"momentum must be a finite number >= 0"),
    (lambda: Adam(-1e-3), ValueError, r"learning_rate must be a finite number > 0"),
    (lambda: Adam(betas=(1.0, 0.999)), ValueError, r"betas\[0\] must be .* < 1"),
    (lambda: Adam(betas=(0.9, -0.1)), ValueError, r"betas\[1\] must be .* >= 0"),
    (lambda: AdamW(weight_decay=-1.0), ValueError, r"weight_decay must be .* >= 0"),
    (lambda: Adam(betas=([0.9, 1.5], 0.999)), ValueError, r"betas\[0\]\[1\] must be"),
    (lambda: LBFGS(tol=-1.0), ValueError, r"tol must be .* >= 0"),
    (lambda: LBFGS(max_iter=0), ValueError, r"max_iter must be >= 1"),
])
def test_bad_hyperparameters_are_refused_before_any_fit(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("kw, error, match", [
    (dict(learning_rate=-0.1), ValueError, r"learning_rate must be a finite number > 0"),
    (dict(learning_rate=0.1, optimizer=Adam()), ValueError,
     r"give learning_rate or optimizer, not both"),
    (dict(optimizer="adam"), TypeError, r"optimizer must be a matnn optimizer .* got str"),
    (dict(optimizer=Adam), TypeError,
     r"optimizer must be a matnn optimizer .* got the class Adam; make one"),
    (dict(optimizer=copy), TypeError, r"optimizer must be a matnn optimizer"),
    (dict(), TypeError, r"fit needs a learning_rate \(plain SGD\) or an optimizer"),
])
def test_bad_training_settings_through_fit_are_clear(kw, error, match):
    for model in (Network.from_sizes([2, 2, 1], seed=0),
                  Ensemble.from_sizes([2, 2, 1], 2, seed=0)):
        before = model.predict(X)
        with pytest.raises(error, match=match):
            model.fit(X, y, epochs=1, **kw)
        np.testing.assert_array_equal(model.predict(X), before)


def test_per_member_hyperparameters_must_match_the_ensemble():
    ensemble = Ensemble.from_sizes([2, 2, 1], 3, seed=0)
    with pytest.raises(ValueError, match=r"per member for 2 members, so params must have shape"):
        ensemble.fit(X, y, epochs=1, optimizer=Adam(learning_rate=[0.1, 0.2]))
    with pytest.raises(ValueError, match=r"learning_rate\[1\] must be a finite number > 0"):
        ensemble.fit(X, y, epochs=1, learning_rate=[0.1, -0.2, 0.1])


def test_an_optimizer_belongs_to_one_network_layout():
    optimizer = Adam(0.01)
    Network.from_sizes([2, 2, 1], seed=0).fit(X, y, epochs=1, optimizer=optimizer)
    with pytest.raises(ValueError, match="an optimizer belongs to one network"):
        Network.from_sizes([2, 3, 1], seed=0).fit(X, y, epochs=1, optimizer=optimizer)


# -- divergence ------------------------------------------------------------------------------

def test_a_divergent_adam_run_keeps_the_last_finite_parameters():
    net = Network.from_sizes([2, 3, 3, 1], "identity", seed=0)
    start = net.params.copy()
    lr, (b1, b2), eps = 1e63, (0.9, 0.999), 1e-8
    with pytest.raises(matnn.TrainingDiverged) as info:
        net.fit(X, y, epochs=20, optimizer=Adam(lr), batch_size=1, shuffle=False)
    exc = info.value
    assert isinstance(exc, FloatingPointError)
    assert exc.batch is not None
    assert f"epoch {exc.epoch}, batch {exc.batch}" in str(exc)
    assert exc.history.shape == (exc.epoch,)

    # Adam by hand (Kingma & Ba), one sample per step in dataset order.
    replay = Network.from_sizes([2, 3, 3, 1], "identity", seed=0)
    np.testing.assert_array_equal(replay.params, start)
    m, v = np.zeros_like(start), np.zeros_like(start)

    def adam_step(t, i):
        nonlocal m, v
        g = flat_gradient(replay, X[i:i + 1], y[i:i + 1])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        replay.params = replay.params - lr * m_hat / (np.sqrt(v_hat) + eps)

    steps = exc.epoch * len(X) + exc.batch
    for t in range(1, steps + 1):
        adam_step(t, (t - 1) % len(X))
    assert_close(net.params, replay.params)
    with np.errstate(all="ignore"), pytest.raises(ValueError, match="NaN or inf"):
        adam_step(steps + 1, exc.batch)  # the failing batch really fails


# -- an ensemble's per-member optimizer ---------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda k: SGD([0.05, 0.1, 0.2][k] if k is not None else [0.05, 0.1, 0.2],
                  momentum=[0.0, 0.5, 0.9][k] if k is not None else [0.0, 0.5, 0.9]),
    lambda k: Adam([0.01, 0.02, 0.05][k] if k is not None else [0.01, 0.02, 0.05],
                   betas=([0.8, 0.9, 0.95][k] if k is not None else [0.8, 0.9, 0.95], 0.999)),
    lambda k: AdamW(0.02, weight_decay=[0.0, 0.1, 0.5][k] if k is not None else [0.0, 0.1, 0.5]),
], ids=["sgd", "adam", "adamw"])
def test_each_member_with_its_own_hyperparameters_equals_its_solo_fit(make):
    Xt, yt = people(20, seed=4)
    members = [Network.from_sizes([2, 4, 1], "tanh", seed=s) for s in range(3)]
    ensemble = Ensemble(members)
    fit = dict(epochs=6, batch_size=3, seed=5)
    history = ensemble.fit(Xt, yt, optimizer=make(None), **fit)
    for k, alone in enumerate(members):
        alone_history = alone.fit(Xt, yt, optimizer=make(k), **fit)
        assert_close(ensemble.network(k).params, alone.params)
        assert_close(history.loss[k], alone_history.loss)


# -- the default batch size ---------------------------------------------------------------

@pytest.mark.parametrize("n, batches", [(4, [(0, 4)]), (50, [(0, 32), (32, 50)])])
def test_the_default_batch_size_is_min_32_n(n, batches):
    Xt, yt = people(n, seed=6) if n != 4 else (X, y)
    net = Network.from_sizes([2, 3, 1], seed=0)
    by_hand = net.copy()
    net.fit(Xt, yt, epochs=3, learning_rate=0.2, shuffle=False)
    for _ in range(3):
        for lo, hi in batches:
            by_hand.params -= 0.2 * flat_gradient(by_hand, Xt[lo:hi], yt[lo:hi])
    assert_close(net.params, by_hand.params)


# -- the docs' table -------------------------------------------------------------------

def test_the_docs_optimizer_table_is_what_its_script_prints():
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "benchmarks.optimizers_table", "--repeats", "1"],
                          cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    page = root / "docs" / "guide" / "training.md"
    section = page.read_text(encoding="utf-8").split("\n## The optimizers compared\n", 1)[1]
    shown = [line for line in section.split("\n## ", 1)[0].splitlines() if line.startswith("|")]
    printed = done.stdout.splitlines()
    # Every column but the time, which is the machine's.
    strip = lambda line: line.rsplit("|", 2)[0]  # noqa: E731
    assert [strip(line) for line in shown] == [strip(line) for line in printed]
