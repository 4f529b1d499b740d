"""The built-in losses against formulas written here (scipy's log_softmax,
log_expit and xlogy, a loop over rows), their gradients against finite
differences, the fused and generic paths against each other, extreme logits,
and the errors bad targets get."""

import math

import numpy as np
import pytest
from scipy.special import expit, log_expit, log_softmax, softmax, xlogy

import matnn
from matnn import Activation, Dense, Loss, Network

DTYPES = [np.float64, np.float32]


# -- references, written independently of matnn/losses.py ---------------------------

def mse_reference(Y, P):
    """The lesson's loss: the mean of (y - p)**2 over every entry, in a loop."""
    total = 0.0
    for y_row, p_row in zip(np.asarray(Y, float), np.asarray(P, float)):
        total += sum((y - p) ** 2 for y, p in zip(y_row, p_row))
    return total / np.size(Y)


def cross_entropy_reference(Y, P):
    """-sum_j y_j log p_j per row, averaged over rows; 0 log 0 is 0."""
    return float(np.mean(-np.sum(xlogy(Y, P), axis=1)))


def binary_cross_entropy_reference(Y, P):
    return float(np.mean(-(xlogy(Y, P) + xlogy(1 - Y, 1 - P))))


class RowWise(Activation):
    """A user's row-wise activation (not elementwise, so no loss fuses with it)
    with softmax's backward pass: ``function`` is softmax, or a wrong one."""

    elementwise = False

    def __init__(self, name="user_softmax", function=lambda Z: softmax(Z, axis=1)):
        super().__init__(name, function, lambda A: np.einsum("ij,jk->ijk", A, np.eye(A.shape[1]))
                         - A[:, :, None] * A[:, None, :], derivative_from="output")

    def backward_into(self, A, G, scratch):
        G[...] = A * (G - np.sum(G * A, axis=1, keepdims=True))
        return G


def cross_entropy_from_logits(Y, Z):
    """From the logits, as torch's cross_entropy computes it: log_softmax per row."""
    return float(np.mean(-np.sum(Y * log_softmax(Z, axis=1), axis=1)))


def cross_entropy_of_labels(labels, Z):
    """The same for class labels, one row at a time."""
    losses = [-log_softmax(z)[label] for z, label in zip(Z, labels)]
    return sum(losses) / len(losses)


def binary_cross_entropy_from_logits(Y, Z):
    # log(1 - sigmoid(z)) = log_expit(-z)
    return float(np.mean(-(Y * log_expit(Z) + (1 - Y) * log_expit(-Z))))


REFERENCES = {
    "mse": mse_reference,
    "cross_entropy": cross_entropy_reference,
    "binary_cross_entropy": binary_cross_entropy_reference,
}


def numeric_gradient(f, P, h=1e-6):
    """Central differences of the scalar ``f`` with respect to every entry of ``P``."""
    grad = np.empty_like(P)
    for index in np.ndindex(P.shape):
        up, down = P.copy(), P.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (f(up) - f(down)) / (2 * h)
    return grad


def probability_rows(rng, n, k):
    return rng.dirichlet(np.ones(k), size=n)


def targets_and_predictions(name, rng, n=6, k=3):
    """Targets and predictions (kept away from 0 and 1) the loss accepts."""
    P = rng.uniform(0.05, 0.95, (n, k))
    if name == "cross_entropy":
        return probability_rows(rng, n, k), probability_rows(rng, n, k)
    return rng.uniform(0, 1, (n, k)), P


# -- the public value and gradient of every built-in -----------------------------------

@pytest.mark.parametrize("name", sorted(matnn.LOSSES))
def test_value_is_the_formula_and_gradient_its_derivative(name):
    loss = matnn.LOSSES[name]
    Y, P = targets_and_predictions(name, np.random.default_rng(0))
    reference = REFERENCES[name]
    assert loss.value(Y, P) == pytest.approx(reference(Y, P), rel=1e-13)
    numeric = numeric_gradient(lambda Q: reference(Y, Q), P)
    np.testing.assert_allclose(loss.gradient(Y, P), numeric, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_of_a_softmax_network_is_log_softmax_of_its_logits(dtype):
    # One layer with W = I and b = 0: the inputs are the logits.
    rng = np.random.default_rng(1)
    Z = rng.normal(0, 3, (7, 4))
    labels = rng.integers(0, 4, 7)
    net = Network([Dense(np.eye(4), np.zeros(4), "softmax", dtype=dtype)], loss="cross_entropy")
    Z = Z.astype(dtype).astype(np.float64)
    rtol = 1e-13 if dtype == np.float64 else 1e-6
    assert net.loss(Z, labels) == pytest.approx(cross_entropy_of_labels(labels, Z), rel=rtol)
    Y = probability_rows(rng, 7, 4).astype(dtype)
    assert net.loss(Z, Y) == pytest.approx(
        cross_entropy_from_logits(Y.astype(np.float64), Z), rel=rtol)


def test_labels_and_their_one_hot_rows_give_the_same_loss_and_gradients():
    net = Network.from_sizes([3, 5, 4], ["tanh", "softmax"], seed=2, loss="cross_entropy")
    rng = np.random.default_rng(3)
    X, labels = rng.normal(size=(9, 3)), rng.integers(0, 4, 9)
    one_hot = np.eye(4)[labels]
    assert net.loss(X, labels) == net.loss(X, one_hot)
    for (a, b), (c, d) in zip(net.gradients(X, labels), net.gradients(X, one_hot)):
        assert np.array_equal(a, c) and np.array_equal(b, d)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_of_a_sigmoid_network_is_log_expit_of_its_logits(dtype):
    rng = np.random.default_rng(4)
    Z = rng.normal(0, 3, (8, 2)).astype(dtype).astype(np.float64)
    Y = rng.uniform(0, 1, (8, 2)).astype(dtype).astype(np.float64)
    net = Network([Dense(np.eye(2), np.zeros(2), "sigmoid", dtype=dtype)],
                  loss="binary_cross_entropy")
    rtol = 1e-13 if dtype == np.float64 else 1e-6
    assert net.loss(Z, Y) == pytest.approx(binary_cross_entropy_from_logits(Y, Z), rel=rtol)


def test_binary_cross_entropy_in_float32_keeps_float32_precision_beside_large_logits():
    # Rows whose logits are large and right cost nothing; summing their
    # softplus(z) and y z separately and subtracting the totals would
    # cancel away the small losses of the other rows.
    rng = np.random.default_rng(5)
    n = 2000
    Z = np.where(rng.random(n) < 0.5, 1000.3, rng.normal(0, 1, n)).astype(np.float32)
    Y = np.where(Z > 100, 1.0, rng.random(n)).astype(np.float32)
    net = Network([Dense([[1.0]], [0.0], "sigmoid", dtype=np.float32)],
                  loss="binary_cross_entropy")
    reference = binary_cross_entropy_from_logits(Y.astype(float), Z.astype(float))
    assert net.loss(Z[:, None], Y) == pytest.approx(reference, rel=1e-6)


# -- fused and generic paths -------------------------------------------------------------

def user_cross_entropy():
    """Cross-entropy from the probabilities: the generic path through softmax's backward."""
    return Loss("my_cross_entropy",
                lambda Y, P: float(np.mean(-np.sum(Y * np.log(P), axis=1))),
                lambda Y, P: -Y / P / len(Y))


def user_sigmoid():
    return Activation("my_sigmoid", expit, lambda A: A * (1 - A), derivative_from="output")


def user_binary_cross_entropy():
    return Loss("my_bce",
                lambda Y, P: float(np.mean(-(Y * np.log(P) + (1 - Y) * np.log(1 - P)))),
                lambda Y, P: (P - Y) / (P * (1 - P)) / Y.size)


def twin(net, activation=None, loss=None):
    """``net`` with the same parameters, its output activation or its loss replaced."""
    layers = [Dense(l.W, l.b, l.activation) for l in net.layers]
    if activation is not None:
        last = layers[-1]
        layers[-1] = Dense(last.W, last.b, activation)
    return Network(layers, loss=net.loss_fn if loss is None else loss)


def assert_same_network_gradients(a, b, X, y, rtol):
    assert a.loss(X, y) == pytest.approx(b.loss(X, y), rel=rtol)
    for (dW, db), (dW2, db2) in zip(a.gradients(X, y), b.gradients(X, y)):
        np.testing.assert_allclose(dW, dW2, rtol=rtol, atol=rtol * 1e-3)
        np.testing.assert_allclose(db, db2, rtol=rtol, atol=rtol * 1e-3)


@pytest.mark.parametrize("targets", ["labels", "probabilities"])
def test_fused_softmax_cross_entropy_agrees_with_the_generic_path(targets):
    rng = np.random.default_rng(6)
    fused = Network.from_sizes([3, 6, 5, 4], ["tanh", "silu", "softmax"], seed=7,
                               loss="cross_entropy")
    generic = twin(fused, loss=user_cross_entropy())
    assert fused._engine.fused and not generic._engine.fused
    X = rng.normal(size=(10, 3))
    y = rng.integers(0, 4, 10) if targets == "labels" else probability_rows(rng, 10, 4)
    Y = np.eye(4)[y] if targets == "labels" else y
    assert_same_network_gradients(fused, generic, X, Y, rtol=1e-10)
    if targets == "labels":
        assert_same_network_gradients(fused, twin(fused), X, y, rtol=0)


@pytest.mark.parametrize("generic", ["user activation", "user loss"])
def test_fused_sigmoid_binary_cross_entropy_agrees_with_the_generic_path(generic):
    rng = np.random.default_rng(8)
    fused = Network.from_sizes([3, 5, 2], ["gelu", "sigmoid"], seed=9,
                               loss="binary_cross_entropy")
    other = (twin(fused, activation=user_sigmoid()) if generic == "user activation"
             else twin(fused, loss=user_binary_cross_entropy()))
    assert fused._engine.fused and not other._engine.fused
    X, Y = rng.normal(size=(12, 3)), rng.uniform(0, 1, (12, 2))
    assert_same_network_gradients(fused, other, X, Y, rtol=1e-10)


# -- extreme logits -------------------------------------------------------------------------

EXTREME = np.array([[1000.0, -1000.0, 0.0],
                    [-1000.0, 1000.0, 999.0],
                    [1000.0, 1000.0, -1000.0],
                    [-1000.0, -1000.0, -1000.0]])


def loss_of_weights(reference, X, W, b):
    return reference(X @ W.T + b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("targets", ["labels", "probabilities"])
def test_cross_entropy_at_logits_of_1000_is_finite_and_right(dtype, targets):
    # Label 1 of row 0 has log-probability -2000, which log(softmax) would make -inf.
    y = np.array([1, 2, 0, 2]) if targets == "labels" else np.array(
        [[0.25, 0.75, 0.0], [0.0, 0.5, 0.5], [0.5, 0.5, 0.0], [0.1, 0.2, 0.7]])
    Y = np.eye(3)[y] if targets == "labels" else y
    net = Network([Dense(np.eye(3), np.zeros(3), "softmax", dtype=dtype)], loss="cross_entropy")
    expected = cross_entropy_from_logits(Y, EXTREME)
    assert net.loss(EXTREME, y) == pytest.approx(expected, rel=1e-12 if dtype == np.float64 else 1e-6)
    # The logits are linear in W, and a step of 1e-7 moves them by 1e-4.
    numeric = numeric_gradient(
        lambda W: loss_of_weights(lambda Z: cross_entropy_from_logits(Y, Z), EXTREME, W,
                                  np.zeros(3)), np.eye(3), h=1e-7)
    (dW, db), = net.gradients(EXTREME, y)
    assert np.isfinite(dW).all() and np.isfinite(db).all()
    np.testing.assert_allclose(dW, numeric, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_cross_entropy_at_logits_of_1000_is_finite_and_right(dtype):
    Z = np.array([[1000.0, -1000.0], [-1000.0, 1000.0], [1000.0, 0.5]])
    Y = np.array([[0.0, 1.0], [0.0, 1.0], [0.3, 1.0]])
    net = Network([Dense(np.eye(2), np.zeros(2), "sigmoid", dtype=dtype)],
                  loss="binary_cross_entropy")
    expected = binary_cross_entropy_from_logits(Y, Z)
    assert net.loss(Z, Y) == pytest.approx(expected, rel=1e-12 if dtype == np.float64 else 1e-6)
    reference = lambda Q: binary_cross_entropy_from_logits(Y, Q)  # noqa: E731
    (dW, db), = net.gradients(Z, Y)
    numeric = numeric_gradient(lambda W: loss_of_weights(reference, Z, W, np.zeros(2)),
                               np.eye(2), h=1e-7)
    np.testing.assert_allclose(dW, numeric, rtol=1e-6, atol=1e-4)
    numeric = numeric_gradient(lambda b: loss_of_weights(reference, Z, np.eye(2), b),
                               np.zeros(2), h=1e-7)
    np.testing.assert_allclose(db, numeric, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(matnn.LOSSES))
def test_generic_paths_at_logits_of_1000_stay_finite(name, dtype):
    # Without the fused delta, probabilities of exactly 0 and 1 reach the
    # loss: the value saturates, but nothing overflows or warns.
    output = {"mse": "softmax", "cross_entropy": RowWise(),
              "binary_cross_entropy": "softmax"}[name]
    net = Network([Dense(np.eye(3), np.zeros(3), output, dtype=dtype)], loss=name)
    assert not net._engine.fused
    y = np.array([1, 2, 0, 2]) if name == "cross_entropy" else np.eye(3)[[1, 2, 0, 2]]
    assert math.isfinite(net.loss(EXTREME, y))
    (dW, db), = net.gradients(EXTREME, y)
    assert np.isfinite(dW).all() and np.isfinite(db).all()


# -- bad targets ------------------------------------------------------------------------

def classifier(loss="cross_entropy", n_out=3, output="softmax"):
    return Network.from_sizes([2, n_out], output, seed=0, loss=loss)


X4 = np.zeros((4, 2))


@pytest.mark.parametrize("y, message", [
    ([0, 1, 3, 2], r"y\[2\] = 3 is not a class label of this 3-output network; "
                   r"labels must be integers in \[0, 3\)"),
    ([0, -1, 1, 2], r"y\[1\] = -1 is not a class label"),
    ([0.0, 1.5, 1.0, 2.0], r"y must hold integer class labels in \[0, 3\) .* non-integer values"),
    ([True, False, True, False], "y must hold integer class labels, got booleans"),
    ([[0.5, 0.5, 0.0]] * 3 + [[1.2, -0.2, 0.0]], r"y\[3, 1\] = -0.2.* is negative"),
    ([[0.5, 0.5, 0.0]] * 3 + [[0.5, 0.2, 0.2]], "row 3 sums to 0.9; pass class labels"),
    ([0, 1, 2], "X has 4 samples but y has 3 labels"),
])
def test_bad_cross_entropy_targets_say_what_is_wrong(y, message):
    net = classifier()
    with pytest.raises(ValueError, match=message):
        net.loss(X4, y)
    with pytest.raises(ValueError, match=message):
        net.fit(X4, y, epochs=1, learning_rate=0.1)


@pytest.mark.parametrize("bad", [1.5, -0.1])
def test_binary_targets_outside_0_1_are_refused(bad):
    net = classifier("binary_cross_entropy", n_out=2, output="sigmoid")
    y = np.full((4, 2), 0.5)
    y[2, 1] = bad
    with pytest.raises(ValueError, match=rf"targets in \[0, 1\], but y at index \(2, 1\) is {bad}"):
        net.loss(X4, y)


def test_cross_entropy_on_one_output_points_to_binary_cross_entropy():
    # (A softmax over one output is refused before the loss sees it.)
    with pytest.raises(ValueError, match="one output per class .* use binary_cross_entropy"):
        classifier(n_out=1, output="sigmoid")


@pytest.mark.parametrize("output", ["identity", "relu", "tanh"])
def test_binary_cross_entropy_refuses_an_output_layer_that_gives_no_probabilities(output):
    with pytest.raises(ValueError, match=rf"its activation is '{output}'; use 'sigmoid'"):
        classifier("binary_cross_entropy", output=output)


def test_a_user_output_outside_0_1_is_caught_when_the_loss_sees_it():
    doubled = Activation("doubled", lambda Z: 2 * Z, lambda Z: np.full_like(Z, 2.0))
    net = Network.from_sizes([2, 3], doubled, seed=0, loss="binary_cross_entropy")
    with pytest.raises(ValueError, match=r"binary_cross_entropy needs predictions in \[0, 1\]"):
        net.loss([[1.0, -2.0]], [[1.0, 0.0, 0.0]])
    # Of three outputs summing to 1, one is below 0.5, so below 0 when shifted.
    shifted = RowWise("shifted_softmax", lambda Z: softmax(Z, axis=1) - 0.5)
    net = Network.from_sizes([2, 3], shifted, seed=0, loss="cross_entropy")
    with pytest.raises(ValueError, match=r"cross_entropy needs predictions in \[0, 1\]"):
        net.loss([[1.0, -2.0]], [0])


@pytest.mark.parametrize("args, error, message", [
    (("", np.mean, np.mean), TypeError, "name must be a non-empty str"),
    (("mine", "mean", np.mean), TypeError, "value of loss 'mine' must be callable"),
    (("mine", np.mean, None), TypeError, "gradient of loss 'mine' must be callable"),
])
def test_bad_user_losses_are_refused(args, error, message):
    with pytest.raises(error, match=message):
        Loss(*args)


def test_a_user_loss_of_the_wrong_shape_is_named():
    flat = Loss("flat", lambda Y, P: float(np.mean((Y - P) ** 2)), lambda Y, P: (P - Y).ravel())
    net = Network.from_sizes([2, 2], seed=0, loss=flat)
    with pytest.raises(ValueError, match=r"gradient of loss 'flat' returned shape \(4,\).*\(2, 2\)"):
        net.gradients(np.ones((2, 2)), np.zeros((2, 2)))
    vector = Loss("vector", lambda Y, P: np.mean((Y - P) ** 2, axis=0), lambda Y, P: P - Y)
    with pytest.raises(ValueError, match="value of loss 'vector' must be a number"):
        Network.from_sizes([2, 2], seed=0, loss=vector).loss(np.ones((2, 2)), np.zeros((2, 2)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_of_many_rows_is_log_softmax_of_its_logits(dtype):
    # 700 rows: a long batch finds each row's maximum at its argmax; the value
    # must stay the reference's, extreme logits and ties included.
    rng = np.random.default_rng(11)
    Z = rng.normal(0, 3, (700, 3))
    Z[::100] = EXTREME[rng.integers(0, 4, 7)]
    Z = Z.astype(dtype).astype(np.float64)
    labels = rng.integers(0, 3, 700)
    net = Network([Dense(np.eye(3), np.zeros(3), "softmax", dtype=dtype)], loss="cross_entropy")
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    assert net.loss(Z, labels) == pytest.approx(cross_entropy_of_labels(labels, Z), rel=rtol)
    assert net.loss(Z[:200], labels[:200]) == pytest.approx(
        cross_entropy_of_labels(labels[:200], Z[:200]), rel=rtol)
