"""The new built-in activations against formulas written here, their
derivatives against finite differences, in float32 and float64 and at
extreme inputs; softmax and its Jacobian; size independence; and user
Activation objects, refused when malformed, trained and gradchecked with
the derivative written from either side of f."""

import math

import numpy as np
import pytest
from scipy.special import softmax as scipy_softmax

import matnn
from matnn import ACTIVATIONS, Activation, Dense, Network, gradcheck

DTYPES = [np.float64, np.float32]
SQRT2 = math.sqrt(2)


def logistic(z):
    # Two branches so that exp never overflows.
    if z >= 0:
        return 1 / (1 + math.exp(-z))
    e = math.exp(z)
    return e / (1 + e)


def gelu_erfc(z):
    """The exact GELU, ``z * Phi(z)``; 1 + erf(x) = erfc(-x) keeps the left tail's digits."""
    return 0.5 * z * math.erfc(-z / SQRT2)


REFERENCE = {
    "leaky_relu": lambda z: z if z > 0 else 0.01 * z,
    "softplus": lambda z: max(z, 0.0) + math.log1p(math.exp(-abs(z))),
    "gelu": gelu_erfc,
    "silu": lambda z: z * logistic(z),
}

# Both signs, the extremes of the brief, and the transitions; no kink (0).
Z_POINTS = np.array([-1e4, -1000.0, -100.0, -30.0, -8.0, -3.3, -1.0, -0.2, 0.05, 0.7, 1.9,
                     4.0, 9.0, 30.0, 100.0, 1000.0, 1e4])


def reference(name, Z):
    return np.array([REFERENCE[name](float(z)) for z in np.ravel(Z)]).reshape(np.shape(Z))


def reference_derivative(name, Z):
    """Central differences of the reference, with a step relative to |z|."""
    out = []
    for z in np.ravel(Z).astype(float):
        h = 1e-6 * max(1.0, abs(z))
        out.append((REFERENCE[name](z + h) - REFERENCE[name](z - h)) / (2 * h))
    return np.array(out).reshape(np.shape(Z))


def derivative(act, Z):
    """f'(Z) from the activation's public callables, whichever side it is written from."""
    V = act.function(Z) if act.derivative_from == "output" else Z
    return act.derivative(V)


# -- values and derivatives ---------------------------------------------------------------

def test_gelu_reference_is_pytorchs_gelu():
    torch = pytest.importorskip("torch")
    expected = torch.nn.functional.gelu(torch.from_numpy(Z_POINTS)).numpy()
    # torch computes 1 + erf(z / sqrt 2), which cancels in the left tail: hence atol.
    np.testing.assert_allclose(reference("gelu", Z_POINTS), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_new_activation_is_its_formula(name, dtype):
    Z = Z_POINTS.astype(dtype)
    A = ACTIVATIONS[name].function(Z)
    assert A.dtype == dtype
    # float64: scipy's ndtr and math.erfc differ by 2e-13 far in gelu's left
    # tail. float32: a few ulps, except where the exact value is below
    # float32's normal range: the sigmoid inside silu stops at exp(88),
    # leaving |z| * 6e-39 where the exact value is 0.
    rtol, atol = (5e-13, 1e-300) if dtype == np.float64 else (5e-7, 1e-34)
    np.testing.assert_allclose(A, reference(name, Z.astype(float)), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_new_activation_derivative_is_the_slope_of_its_formula(name, dtype):
    act = ACTIVATIONS[name]
    Z = Z_POINTS.astype(dtype)
    d = derivative(act, Z)
    assert d.dtype == dtype
    rtol = 1e-8 if dtype == np.float64 else 5e-6
    np.testing.assert_allclose(d, reference_derivative(name, Z.astype(float)), rtol=rtol,
                               atol=1e-9)


def test_leaky_relu_slope_is_a_hundredth_below_zero_and_at_the_kink():
    # torch.nn.functional.leaky_relu's default slope; at 0 torch takes the left side.
    Z = np.array([-5.0, -1e-300, 0.0, 1e-300, 5.0])
    assert ACTIVATIONS["leaky_relu"].kinks == (0.0,)
    np.testing.assert_array_equal(derivative(ACTIVATIONS["leaky_relu"], Z),
                                  [0.01, 0.01, 0.01, 1, 1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_extreme_inputs_give_finite_values_and_derivatives(name, dtype):
    # Warnings are errors (pyproject), so an overflow in exp would fail here.
    act = ACTIVATIONS[name]
    Z = np.array([[1e4, -1e4, 1000.0, -1000.0, 0.0]], dtype)
    A = act.function(Z)
    assert A.dtype == dtype and np.isfinite(A).all()
    if act.elementwise:
        assert np.isfinite(derivative(act, Z)).all()
    else:
        assert np.isfinite(act.derivative(A)).all()


# -- softmax ----------------------------------------------------------------------------------

def softmax_rows(Z):
    """Row by row, with the row maximum subtracted first."""
    out = []
    for row in np.asarray(Z, float):
        top = max(row)
        e = [math.exp(z - top) for z in row]
        out.append([x / sum(e) for x in e])
    return np.array(out)


SOFTMAX_ROWS = np.array([[0.3, -1.2, 2.0, 0.0],
                         [1000.0, -1000.0, 999.0, 0.0],
                         [1e4, 1e4, -1e4, 1e4],
                         [-1000.0, -1000.0, -1000.0, -1000.0],
                         [5.0, 5.0, 5.0, 5.5]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_is_scipys_and_its_rows_sum_to_1(dtype):
    Z = SOFTMAX_ROWS.astype(dtype)
    A = ACTIVATIONS["softmax"].function(Z)
    assert A.dtype == dtype and np.isfinite(A).all()
    rtol = 1e-15 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(A, scipy_softmax(Z.astype(float), axis=1), rtol=rtol, atol=1e-300)
    np.testing.assert_allclose(A, softmax_rows(Z), rtol=rtol, atol=1e-300)
    np.testing.assert_allclose(A.sum(axis=1), 1, rtol=4 * np.finfo(dtype).eps)


def test_softmax_jacobian_is_the_slope_of_softmax():
    Z = np.random.default_rng(0).normal(0, 2, (3, 4))
    J = ACTIVATIONS["softmax"].derivative(ACTIVATIONS["softmax"].function(Z))
    assert J.shape == (3, 4, 4)
    h = 1e-6
    for m in range(4):
        step = np.zeros(4)
        step[m] = h
        # Column m: how every output of the row moves with z_m.
        column = (softmax_rows(Z + step) - softmax_rows(Z - step)) / (2 * h)
        np.testing.assert_allclose(J[:, :, m], column, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_backward_is_its_jacobian_times_the_vector(dtype):
    rng = np.random.default_rng(1)
    softmax = ACTIVATIONS["softmax"]
    A = softmax.function(np.concatenate([rng.normal(0, 2, (6, 4)), SOFTMAX_ROWS]).astype(dtype))
    G = rng.normal(size=A.shape).astype(dtype)
    # J is symmetric; written J^T G, the chain rule's order.
    expected = np.einsum("nij,ni->nj", softmax.derivative(A).astype(float), G.astype(float))
    got = softmax.backward_into(A, G.copy(), np.empty_like(A))
    assert got.dtype == dtype
    atol = 1e-15 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(got, expected, rtol=0, atol=atol)


def test_softmax_is_not_elementwise_and_says_so():
    with pytest.raises(TypeError, match="softmax is not elementwise"):
        ACTIVATIONS["softmax"].derivative_into(np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"takes A of shape \(n, k\)"):
        ACTIVATIONS["softmax"].derivative(np.zeros(3))


# -- size independence -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_a_row_is_computed_the_same_in_any_batch(name, dtype):
    # 3000 x 7 values is far past any size where a formula might switch
    # (the old float32 sigmoid switched at 1024 elements).
    act = ACTIVATIONS[name]
    Z = np.random.default_rng(2).normal(0, 6, (3000, 7)).astype(dtype)
    whole = act.forward_into(Z, np.empty_like(Z))
    rows = [act.forward_into(Z[i:i + 1].copy(), np.empty((1, 7), dtype)) for i in range(0, 3000, 97)]
    assert np.array_equal(np.concatenate(rows), whole[::97])
    in_place = Z.copy()
    assert np.array_equal(act.forward_into(in_place, in_place), whole)
    if act.elementwise:
        V = whole if act.derivative_from == "output" else Z
        slope = act.derivative_into(V, np.empty_like(V))
        rows = [act.derivative_into(V[i:i + 1].copy(), np.empty((1, 7), dtype))
                for i in range(0, 3000, 97)]
        assert np.array_equal(np.concatenate(rows), slope[::97])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_a_networks_row_does_not_change_with_its_batch(name, dtype):
    rng = np.random.default_rng(3)
    X = rng.normal(0, 2, (2500, 3))
    # Exact layer: integer inputs and weights in eighths make Z exact in any
    # summation order, so the outputs must agree to the bit.
    exact = Network([Dense(rng.integers(-8, 9, (4, 3)) / 8, rng.integers(-8, 9, 4) / 8, name,
                           dtype=dtype)])
    Xi = np.round(X * 4)
    whole = exact.predict(Xi)
    for i in (0, 1, 1023, 1024, 2499):
        assert np.array_equal(exact.predict(Xi[i:i + 1]), whole[i:i + 1])
    # Deeper: BLAS may sum a lone row in another order than a batch.
    deep = Network.from_sizes([3, 6, 5, 4], name, seed=4, dtype=dtype)
    whole = deep.predict(X)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for i in (0, 1023, 2499):
        np.testing.assert_allclose(deep.predict(X[i:i + 1]), whole[i:i + 1], rtol=rtol,
                                   atol=rtol)
    ensemble = matnn.Ensemble.from_sizes([3, 6, 5, 4], 3, name, seed=5, dtype=dtype)
    whole = ensemble.predict(X)
    for i in (0, 1023, 2499):
        np.testing.assert_allclose(ensemble.predict(X[i:i + 1]), whole[:, i:i + 1], rtol=rtol,
                                   atol=rtol)


# -- user activations ----------------------------------------------------------------------------

def cube():
    return Activation("cube", lambda Z: Z ** 3, lambda Z: 3 * Z ** 2)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(name=""), TypeError, "name must be a non-empty str, got ''"),
    (dict(name=3), TypeError, "name must be a non-empty str, got 3"),
    (dict(function="tanh"), TypeError, "function of activation 'mine' must be callable"),
    (dict(derivative=None), TypeError, "derivative of activation 'mine' must be callable"),
    (dict(derivative_from="A"), ValueError,
     "derivative_from of activation 'mine' must be 'input' or 'output', got 'A'"),
    (dict(kinks=(0.0, math.inf)), ValueError, "kinks of activation 'mine' must be finite numbers"),
    (dict(kinks=("0",)), ValueError, "kinks of activation 'mine' must be finite numbers, got '0'"),
    (dict(kinks=0.0), TypeError, r"kinks of activation 'mine' must be a sequence of numbers"),
])
def test_bad_activation_arguments_are_refused_by_name(kwargs, error, message):
    args = dict(name="mine", function=np.tanh, derivative=lambda A: 1 - A ** 2)
    args.update(kwargs)
    name, function, derivative = args.pop("name"), args.pop("function"), args.pop("derivative")
    with pytest.raises(error, match=message):
        Activation(name, function, derivative, **args)


def test_an_activation_that_is_not_elementwise_is_named():
    total = Activation("row_total", lambda Z: Z.sum(axis=1), lambda Z: np.ones_like(Z))
    net = Network.from_sizes([2, 3, 1], [total, "sigmoid"], seed=0)
    with pytest.raises(ValueError, match=r"function of activation 'row_total' returned shape \(2,\)"):
        net.predict(np.ones((2, 2)))
    constant = Activation("constant", np.tanh, lambda Z: 1.0)
    net = Network.from_sizes([2, 3, 1], [constant, "sigmoid"], seed=0)
    with pytest.raises(ValueError, match=r"derivative of activation 'constant' returned shape \(\)"):
        net.gradients(np.ones((2, 2)), np.zeros(2))


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match=r"unknown activation 'swish'; choose one of \['gelu'"):
        Network.from_sizes([2, 1], "swish")
    with pytest.raises(TypeError, match="activation must be an Activation or the name of one"):
        Dense(np.ones((1, 2)), [0.0], np.tanh)


def test_a_user_activation_goes_wherever_a_name_goes():
    act = cube()
    layer = Dense(np.ones((3, 2)), np.zeros(3), act)
    assert layer.activation is act
    net = Network.from_sizes([2, 3, 1], [act, "sigmoid"], seed=0)
    assert net.activations == ("cube", "sigmoid") and net.layers[0].activation is act
    ensemble = matnn.Ensemble.from_sizes([2, 3, 1], 2, [act, "sigmoid"], seed=0)
    assert ensemble.activations == ("cube", "sigmoid")
    X = np.array([[0.5, -1.0], [1.0, 0.25]])
    Z = X @ net.layers[0].W.T + net.layers[0].b
    np.testing.assert_allclose(net.forward(X)[1], Z ** 3, rtol=1e-15)


SOFTSIGN = {
    # softsign(z) = z / (1 + |z|); f'(z) = 1 / (1 + |z|)**2 = (1 - |a|)**2
    "input": lambda Z: 1 / (1 + np.abs(Z)) ** 2,
    "output": lambda A: (1 - np.abs(A)) ** 2,
}


def test_a_user_derivative_from_either_side_gradchecks_and_trains_the_same():
    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(16, 2)), rng.uniform(0, 1, 16)
    trained = {}
    for side in ("input", "output"):
        softsign = Activation(f"softsign_from_{side}", lambda Z: Z / (1 + np.abs(Z)),
                              SOFTSIGN[side], derivative_from=side)
        net = Network.from_sizes([2, 4, 3, 1], [softsign, softsign, "sigmoid"], seed=5)
        assert net._engine.keep_z[0] == (side == "input")
        assert gradcheck(net, X, y).ok
        before = net.loss(X, y)
        history = net.fit(X, y, epochs=100, learning_rate=1.0, batch_size=4, seed=0)
        assert history.loss[-1] < 0.8 * before
        trained[side] = net.params
    np.testing.assert_allclose(trained["input"], trained["output"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_of_special_rows_is_the_same_in_a_long_batch(dtype):
    # Long batches find a row's maximum at its argmax; NaN and infinities must
    # come out as they do for a lone row (which uses maximum.reduce).
    big = np.finfo(dtype).max
    special = np.array([[np.nan, 1.0, 2.0], [1.0, np.inf, 0.0], [np.inf, np.inf, 1.0],
                        [-np.inf, -np.inf, -np.inf], [-np.inf, 0.0, 3.0], [-0.0, 0.0, -0.0],
                        [big, -big, 0.0], [5.0, 5.0, 5.0]], dtype)
    rng = np.random.default_rng(6)
    Z = rng.normal(0, 4, (600, 3)).astype(dtype)
    Z[::75] = special
    with np.errstate(invalid="ignore", over="ignore"):
        whole = ACTIVATIONS["softmax"].forward_into(Z, np.empty_like(Z))
        alone = [ACTIVATIONS["softmax"].forward_into(row[None].copy(), np.empty((1, 3), dtype))[0]
                 for row in Z]
    np.testing.assert_array_equal(whole, np.array(alone))
    assert np.isnan(whole[0]).all() and np.array_equal(whole[525], np.full(3, 1 / 3, dtype))
