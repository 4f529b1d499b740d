"""The open core as a whole: every built-in activation with every built-in
loss passes gradcheck; a wrong user derivative is caught and named; user
losses train; subclass overrides are what fit uses; an ensemble is its
members, for every loss and over many blocks of rows."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matnn
import matnn.backprop
from matnn import data
from matnn import (
    ACTIVATIONS,
    LBFGS,
    LOSSES,
    SGD,
    Activation,
    Adam,
    Ensemble,
    GradcheckError,
    Loss,
    Network,
    gradcheck,
)

#: The built-in output activations each cross-entropy takes: rows that are
#: distributions for cross_entropy, entries in [0, 1] for the binary one.
PROBABILITY_OUTPUTS = {"cross_entropy": {"softmax"}, "binary_cross_entropy": {"softmax", "sigmoid"}}
FUSED_OUTPUT = {"mse": "sigmoid", "cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}


def targets(loss, rng, n, k, labels=True):
    """Targets ``loss`` accepts: labels or probability rows for cross_entropy."""
    if loss == "cross_entropy":
        return rng.integers(0, k, n) if labels else rng.dirichlet(np.ones(k), n)
    return rng.uniform(0, 1, (n, k))


# -- every activation x every loss ---------------------------------------------------------

@st.composite
def architectures(draw, loss):
    depth = draw(st.integers(1, 3))
    widths = draw(st.lists(st.integers(1, 4), min_size=depth, max_size=depth))
    if loss == "cross_entropy":
        widths[-1] = max(widths[-1], 2)
    return dict(sizes=[draw(st.integers(1, 3))] + widths, n=draw(st.sampled_from([1, 3, 7])),
                seed=draw(st.integers(0, 2**16)), labels=draw(st.booleans()))


def open_core_case(activation, loss, arch, cls=Network, **kwargs):
    """The network (a ``cls``), inputs and targets of one drawn ``arch``."""
    sizes = arch["sizes"]
    if activation == "softmax":
        # Over one unit softmax is the constant 1, which a Dense layer refuses.
        sizes = sizes[:1] + [max(width, 2) for width in sizes[1:]]
    # On the output layer wherever the loss allows it (softmax with mse too),
    # else the loss's own output; always in the hidden layers.
    allowed = loss == "mse" or activation in PROBABILITY_OUTPUTS[loss]
    output = activation if allowed else FUSED_OUTPUT[loss]
    acts = [activation] * (len(sizes) - 2) + [output]
    net = Network.from_sizes(sizes, acts, seed=arch["seed"], loss=loss)
    rng = np.random.default_rng(arch["seed"])
    # Biases off zero, so relu-like units are not all at their kink.
    net.params += rng.normal(0, 0.3, net.params.shape)
    X = rng.uniform(-2, 2, (arch["n"], sizes[0]))
    y = targets(loss, rng, arch["n"], sizes[-1], arch["labels"])
    if cls is not Network:
        net = cls(net.layers, loss=net.loss_fn, **kwargs)
    return net, X, y


@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@settings(max_examples=8)
@given(draws=st.data())
def test_every_activation_with_every_loss_passes_gradcheck(activation, loss, draws):
    result = gradcheck(*open_core_case(activation, loss, draws.draw(architectures(loss))))
    assert result.ok
    if not ACTIVATIONS[activation].kinks:
        assert sum(p.n_unreliable for p in result.params) == 0


# -- a wrong user derivative ----------------------------------------------------------------------

def tanh_with_slope(factor, side):
    """tanh with its derivative scaled by ``factor``, written from the input or the output."""
    if side == "input":
        slope = lambda Z: factor * (1 - np.tanh(Z) ** 2)  # noqa: E731
    else:
        slope = lambda A: factor * (1 - A ** 2)  # noqa: E731
    return Activation(f"my_tanh_{side}", np.tanh, slope, derivative_from=side)


@pytest.mark.parametrize("side", ["input", "output"])
@pytest.mark.parametrize("layer", [0, 1])
def test_a_derivative_wrong_by_1_percent_is_caught_and_named(layer, side):
    wrong = tanh_with_slope(1.01, side)
    acts = ["tanh", "tanh", "sigmoid"]
    acts[layer] = wrong
    net = Network.from_sizes([3, 4, 3, 1], acts, seed=1)
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(5, 3)), rng.uniform(0, 1, 5)
    with pytest.raises(GradcheckError) as caught:
        gradcheck(net, X, y)
    # Layer l's f' enters the gradients of layers 0..l only.
    failing = [p.name for p in caught.value.result.failures]
    assert failing == [f"layers[{l}].{k}" for l in range(layer + 1) for k in "Wb"]
    assert f"layers[{layer}].W, shape" in str(caught.value)
    assert f"(the layer's activation is '{wrong.name}')" in str(caught.value)
    # The same activation with the right slope passes.
    acts[layer] = tanh_with_slope(1.0, side)
    right = Network([matnn.Dense(l.W, l.b, a) for l, a in zip(net.layers, acts)])
    assert gradcheck(right, X, y).ok


def test_a_declared_kink_makes_a_step_across_it_unreliable_not_wrong():
    # One unit whose pre-activation is 1e-7: the step of 5e-6 on its bias
    # crosses the kink of |z| at 0, where the difference quotient is 0.02, not 1.
    X, y = [[1e-7]], [0.5]
    for kinks, unreliable in (((0.0,), 1), ((), 0)):
        absolute = Activation("abs", np.abs, np.sign, kinks=kinks)
        net = Network([matnn.Dense([[1.0]], [0.0], absolute)])
        result = gradcheck(net, X, y, raise_exception=False)
        bias = result.params[1]
        assert (bias.n_unreliable, bias.n_mismatches) == (unreliable, 1 - unreliable)
        assert result.params[0].ok


# -- a user loss -------------------------------------------------------------------------------------

def log_cosh():
    """The mean over rows of sum_j log cosh(p_j - y_j), written stably."""
    def value(Y, P):
        r = np.abs(P - Y)
        return float(np.mean(np.sum(r + np.log1p(np.exp(-2 * r)) - np.log(2), axis=1)))

    return Loss("log_cosh", value, lambda Y, P: np.tanh(P - Y) / len(Y))


def test_a_user_loss_gradchecks_trains_and_is_reported():
    loss = log_cosh()
    net = Network.from_sizes([2, 5, 2], ["gelu", "identity"], seed=3, loss=loss)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 2))
    Y = np.column_stack([X[:, 0] * X[:, 1], np.sin(X[:, 0])])
    assert net.loss_fn is loss
    assert gradcheck(net, X[:6], Y[:6]).ok
    reference = np.mean(np.sum(np.log(np.cosh(net.predict(X) - Y)), axis=1))
    assert net.loss(X, Y) == pytest.approx(reference, rel=1e-12)
    history = net.fit(X, Y, epochs=60, optimizer=Adam(0.02), seed=0)
    assert history.loss[-1] == pytest.approx(net.loss(X, Y), rel=1e-12)
    assert history.loss[-1] < 0.5 * reference


def test_a_user_loss_with_a_wrong_gradient_is_caught():
    bad = Loss("half_mse", lambda Y, P: float(np.mean((P - Y) ** 2)),
               lambda Y, P: (P - Y) / Y.size)  # the factor 2 forgotten
    net = Network.from_sizes([2, 3, 1], seed=5, loss=bad)
    with pytest.raises(GradcheckError, match="4 of 4 parameter arrays"):
        gradcheck(net, [[0.5, -1.0], [1.0, 2.0]], [0.2, 0.9])


# -- subclass overrides -----------------------------------------------------------------------------

class Scaled(Network):
    """A backward pass whose gradient is ``scale`` times the true one."""

    scale = 0.0

    def gradients(self, X, y):
        return [(self.scale * dW, self.scale * db) for dW, db in super().gradients(X, y)]


class Student(Network):
    """A student's own backward pass for sigmoid layers and the lesson's MSE, in numpy."""

    calls = 0

    def gradients(self, X, y):
        type(self).calls += 1
        X = np.asarray(X, float)
        Y = np.asarray(y, float).reshape(len(X), -1)
        A = [X]
        for layer in self.layers:
            A.append(1 / (1 + np.exp(-(A[-1] @ layer.W.T + layer.b))))
        delta = 2 * (A[-1] - Y) / Y.size * A[-1] * (1 - A[-1])
        grads = []
        for l in range(len(self.layers) - 1, -1, -1):
            grads.append((delta.T @ A[l], delta.sum(axis=0)))
            delta = (delta @ self.layers[l].W) * A[l] * (1 - A[l])
        return grads[::-1]


class Offset(Network):
    """A loss one more than the network's own: what the history must report."""

    def loss(self, X, y):
        return super().loss(X, y) + 1.0


def lesson_setup():
    return data.X, data.y


#: Ways to call fit, each with a new optimizer (an optimizer keeps its state).
FIT_WAYS = {
    "learning_rate": lambda: dict(epochs=5, learning_rate=0.5, batch_size=2, seed=0),
    "sgd_momentum": lambda: dict(epochs=5, optimizer=SGD(0.5, momentum=0.9), batch_size=2,
                                 seed=0),
    "adam": lambda: dict(epochs=5, optimizer=Adam(0.05), batch_size=2, seed=0),
    "lbfgs": lambda: dict(optimizer=LBFGS(max_iter=20)),
}


@pytest.mark.parametrize("way", sorted(FIT_WAYS))
def test_fit_trains_with_a_subclass_gradients_scaled_by_0(way):
    net = Scaled.from_sizes([2, 3, 1], seed=6)
    start = net.params.copy()
    net.fit(*lesson_setup(), **FIT_WAYS[way]())
    assert np.array_equal(net.params, start)
    plain = Network.from_sizes([2, 3, 1], seed=6)
    plain.fit(*lesson_setup(), **FIT_WAYS[way]())
    assert not np.array_equal(plain.params, start)


def test_fit_with_a_subclass_gradient_doubled_takes_the_doubled_steps():
    doubled = type("Doubled", (Scaled,), {"scale": 2.0}).from_sizes([2, 3, 1], seed=7)
    plain = Network.from_sizes([2, 3, 1], seed=7)
    doubled.fit(*lesson_setup(), epochs=4, learning_rate=0.25, batch_size=1, shuffle=False)
    plain.fit(*lesson_setup(), epochs=4, learning_rate=0.5, batch_size=1, shuffle=False)
    np.testing.assert_allclose(doubled.params, plain.params, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("way", ["learning_rate", "adam", "lbfgs"])
def test_fit_trains_with_a_students_own_backward_pass(way):
    student = Student.from_sizes([2, 3, 2, 1], seed=8)
    assert gradcheck(student, *lesson_setup()).ok
    plain = Network.from_sizes([2, 3, 2, 1], seed=8)
    Student.calls = 0
    student.fit(*lesson_setup(), **FIT_WAYS[way]())
    plain.fit(*lesson_setup(), **FIT_WAYS[way]())
    assert Student.calls > 0
    np.testing.assert_allclose(student.params, plain.params, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("way", ["learning_rate", "adam", "lbfgs"])
def test_the_history_reports_a_subclass_loss(way):
    X, y = lesson_setup()
    validation = {} if way == "lbfgs" else dict(validation_data=(X[:2], y[:2]))
    offset = Offset.from_sizes([2, 3, 1], seed=9)
    plain = Network.from_sizes([2, 3, 1], seed=9)
    history = offset.fit(X, y, **FIT_WAYS[way](), **validation)
    reference = plain.fit(X, y, **FIT_WAYS[way](), **validation)
    np.testing.assert_allclose(history.loss, reference.loss + 1.0, rtol=1e-12)
    if way != "lbfgs":
        np.testing.assert_allclose(history.val_loss, reference.val_loss + 1.0, rtol=1e-12)
    assert history.loss[-1] == pytest.approx(offset.loss(X, y), rel=1e-12)


def test_copy_and_from_sizes_return_the_subclass():
    net = Student.from_sizes([2, 2, 1], seed=0)
    net.note = "mine"
    twin = net.copy()
    assert type(net) is Student and type(twin) is Student
    assert twin.note == "mine" and np.array_equal(twin.params, net.params)
    twin.params[0] += 1
    assert twin.params[0] != net.params[0]
    assert twin.layers[0].W[0, 0] == twin.params[0]


# -- ensembles --------------------------------------------------------------------------------------

OUTPUT_FOR = {"mse": "tanh", "cross_entropy": "softmax", "binary_cross_entropy": "sigmoid",
              "log_cosh": "identity"}
USER_LOSS = log_cosh()


def members(loss, n_models=3, sizes=(3, 5, 4), seed=10):
    loss_fn = USER_LOSS if loss == "log_cosh" else loss
    return [Network.from_sizes(sizes, ["gelu", OUTPUT_FOR[loss]], seed=seed + k, loss=loss_fn)
            for k in range(n_models)]


def assert_close(actual, expected, rtol=1e-12):
    """Equal within ``rtol`` of the larger of 1 and the expected magnitude."""
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("optimizer", [None, "adam"])
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_each_member_equals_its_solo_fit_for_every_loss(loss, optimizer):
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(23, 3)), targets(loss, rng, 23, 4)
    networks = members(loss)
    ensemble = Ensemble(networks)
    way = dict(learning_rate=0.3) if optimizer is None else dict(optimizer=Adam(0.01))
    history = ensemble.fit(X, y, epochs=4, batch_size=5, seed=1, validation_data=(X[:7], y[:7]),
                           **way)
    for k, net in enumerate(networks):
        way = dict(learning_rate=0.3) if optimizer is None else dict(optimizer=Adam(0.01))
        alone = net.fit(X, y, epochs=4, batch_size=5, seed=1, validation_data=(X[:7], y[:7]),
                        **way)
        assert_close(ensemble.network(k).params, net.params)
        assert_close(history.loss[k], alone.loss)
        assert_close(history.val_loss[k], alone.val_loss)
        if LOSSES[loss].classifies:
            assert_close(history.accuracy[k], alone.accuracy)


def test_an_ensemble_takes_its_loss_from_its_members():
    ensemble = Ensemble(members("cross_entropy"))
    assert ensemble.loss_fn is LOSSES["cross_entropy"]
    sigmoid_mse = [Network.from_sizes((3, 5, 4), ["gelu", "sigmoid"], seed=k) for k in range(2)]
    mixed = members("binary_cross_entropy")[:1] + sigmoid_mse
    with pytest.raises(ValueError, match="networks.1. has loss mse but networks.0. has "
                                         "binary_cross_entropy"):
        Ensemble(mixed)


@pytest.mark.parametrize("loss", sorted(LOSSES) + ["log_cosh"])
def test_ensemble_over_many_blocks_is_each_members_own(loss, monkeypatch):
    # 4 member-rows per block: 3 members take 1 row at a time, a network 4,
    # so 50 rows are 50 ensemble blocks and 13 network blocks.
    monkeypatch.setattr(matnn.backprop, "BLOCK_ROWS", 4)
    rng = np.random.default_rng(12)
    X, y = rng.normal(size=(50, 3)), targets(loss, rng, 50, 4)
    networks = members(loss)
    ensemble = Ensemble(networks)
    predictions, losses, gradients = ensemble.predict(X), ensemble.loss(X, y), ensemble.gradients(X, y)
    for k, net in enumerate(networks):
        # Unblocked references: forward and backward of all 50 rows at once.
        cache = net.forward(X)
        _, whole = net.backward(cache, y)
        assert_close(predictions[k], cache[-1])
        assert_close(predictions[k], net.predict(X))
        assert_close(losses[k], net.loss(X, y))
        for (dW, db), (dW_k, db_k), (dW_net, db_net) in zip(gradients, whole, net.gradients(X, y)):
            assert_close(dW[k], dW_k)
            assert_close(db[k], db_k)
            assert_close(dW_net, dW_k)
            assert_close(db_net, db_k)
    monkeypatch.setattr(matnn.backprop, "BLOCK_ROWS", 4096)
    assert_close(ensemble.loss(X, y), losses)


def test_an_ensemble_refuses_members_whose_own_passes_it_would_ignore():
    class Student(Network):
        def gradients(self, X, y):
            return super().gradients(X, y)

    members = [Student.from_sizes([2, 2, 1], seed=0), Network.from_sizes([2, 2, 1], seed=1)]
    with pytest.raises(TypeError, match=r"networks\[0\] is a Student that overrides gradients"):
        Ensemble(members)
