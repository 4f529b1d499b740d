"""matnn.gradcheck: the document's example, mutations it must catch, its report,
its sampling budget, the scipy method and relu kinks."""

import re

import numpy as np
import pytest

import matnn
from matnn import Dense, GradcheckError, GradcheckResult, Network, data, gradcheck
from matnn.gradient_check import DEFAULT_TOLERANCES, MAX_REPORTED


def document_network(dtype=np.float64):
    """The document's 2-2-1 sigmoid network at its worked example: weights 1, biases 0."""
    return Network([Dense(np.ones((2, 2)), np.zeros(2), "sigmoid", dtype=dtype),
                    Dense(np.ones((1, 2)), np.zeros(1), "sigmoid", dtype=dtype)])


def alice():
    x, y_true = data.sample("Alice")
    return x.reshape(1, -1), [y_true]


def random_layers(sizes, activations, seed, dtype=np.float64):
    """Layers with weights and biases from N(0, 1/fan_in)."""
    rng = np.random.default_rng(seed)
    return [Dense(rng.normal(0, np.sqrt(1 / n_in), (n_out, n_in)),
                  rng.normal(0, np.sqrt(1 / n_in), n_out), act, dtype=dtype)
            for n_in, n_out, act in zip(sizes[:-1], sizes[1:], activations)]


def random_batch(sizes, n, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(-3, 3, (n, sizes[0])), rng.uniform(0, 1, (n, sizes[-1]))


class Corrupted(Network):
    """A network whose backward pass gets one entry wrong, as a student's might (any loss)."""

    def __init__(self, layers, *, layer, kind, index, corrupt, loss="mse"):
        super().__init__(layers, loss=loss)
        self.where = (layer, "Wb".index(kind), index)
        self.corrupt = corrupt

    def gradients(self, X, y):
        grads = super().gradients(X, y)
        layer, which, index = self.where
        grads[layer][which][index] = self.corrupt(grads[layer][which][index])
        return grads


# -- the document's worked example ---------------------------------------------

def test_alice_gradients_pass_and_dL_dw1_is_the_documents_0_0214():
    result = gradcheck(document_network(), *alice())
    assert result.ok and not result.sampled
    w1 = result.params[0].entries[0]
    assert (w1.index, w1.symbol) == ((0, 0), "w1")
    # The document rounds every intermediate to three digits on its way to 0.0214.
    assert w1.analytic == pytest.approx(0.0214, abs=1e-4)
    assert w1.numeric == pytest.approx(0.0214, abs=1e-4)
    assert [p.document_names for p in result.params] == [
        "w1, w2, w3, w4", "b1, b2", "w5, w6", "b3"]


def test_alice_agrees_to_about_1e_9_relative_in_float64():
    result = gradcheck(document_network(), *alice())
    assert max(p.max_rel_error for p in result.params) < 2e-9


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_coordinate_of_the_document_network_is_checked(dtype):
    result = gradcheck(document_network(dtype), data.X, data.y)
    assert [(p.name, p.shape, p.n_checked) for p in result.params] == [
        ("layers[0].W", (2, 2), 4), ("layers[0].b", (2,), 2),
        ("layers[1].W", (1, 2), 2), ("layers[1].b", (1,), 1)]
    assert result.dtype == np.dtype(dtype).name
    assert (result.eps, result.rtol, result.atol) == DEFAULT_TOLERANCES["central", result.dtype]


def test_gradcheck_is_exported_from_matnn():
    assert matnn.gradcheck is gradcheck
    assert issubclass(matnn.GradcheckError, AssertionError)
    assert isinstance(gradcheck(document_network(), *alice()), matnn.GradcheckResult)


# -- mutations: the tolerances are not vacuous -------------------------------------

MUTATED_SIZES = (3, 4, 2, 2)
MUTATED_ACTIVATIONS = ("tanh", "sigmoid", "identity")
PARAMETERS = [(layer, kind) for layer in range(3) for kind in "Wb"]
CORRUPTIONS = {"by 1%": lambda g: g * 1.01, "sign flipped": lambda g: -g,
               # Its relative allowance, rtol * |inf|, would be infinite too.
               "infinite": lambda g: np.inf, "NaN": lambda g: np.nan}


def largest_entry(layer, kind, dtype):
    """The index of the largest gradient entry, so 1% of it exceeds float32 noise."""
    net = Network(random_layers(MUTATED_SIZES, MUTATED_ACTIVATIONS, 0, dtype))
    grad = net.gradients(*random_batch(MUTATED_SIZES, 3, 1))[layer]["Wb".index(kind)]
    return tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(grad)), grad.shape))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("corruption", CORRUPTIONS)
@pytest.mark.parametrize("layer, kind", PARAMETERS)
def test_a_corrupted_gradient_entry_is_caught_and_named(layer, kind, corruption, dtype):
    index = largest_entry(layer, kind, dtype)
    net = Corrupted(random_layers(MUTATED_SIZES, MUTATED_ACTIVATIONS, 0, dtype),
                    layer=layer, kind=kind, index=index, corrupt=CORRUPTIONS[corruption])
    with pytest.raises(GradcheckError) as caught:
        gradcheck(net, *random_batch(MUTATED_SIZES, 3, 1))
    name = f"layers[{layer}].{kind}"
    (failure,) = caught.value.result.failures
    assert failure.name == name
    assert [e.index for e in failure.worst()] == [index]
    message = str(caught.value)
    assert f"{name}, shape {failure.shape}: 1 of {failure.n_checked}" in message
    assert f"\n    {index} " in message


def test_the_report_names_the_documents_symbol_of_a_wrong_entry():
    X, y = alice()
    net = Corrupted(document_network().layers, layer=0, kind="W", index=(0, 1),
                    corrupt=lambda g: g * 1.01)
    with pytest.raises(GradcheckError, match=r"\n    \(0, 1\) w2 "):
        gradcheck(net, X, y)


def test_the_report_states_the_settings_and_stays_short():
    sizes = (30, 40, 2)
    net = Corrupted(random_layers(sizes, ("tanh", "sigmoid"), 0), layer=0, kind="W",
                    index=(slice(None), slice(None)), corrupt=lambda g: -g)
    result = gradcheck(net, *random_batch(sizes, 4, 1), raise_exception=False)
    report = result.report()
    assert not result.ok and result.failures[0].n_mismatches > MAX_REPORTED
    assert "method 'central', eps 5e-06, rtol 2e-09, atol 1e-09, dtype float64" in report
    assert report.count("\n    (") == MAX_REPORTED
    assert f"... and {result.failures[0].n_mismatches - MAX_REPORTED} more" in report
    assert len(report.splitlines()) < 20


def test_raise_exception_false_returns_the_failing_result():
    net = Corrupted(document_network().layers, layer=1, kind="b", index=(0,),
                    corrupt=lambda g: -g)
    result = gradcheck(net, *alice(), raise_exception=False)
    assert isinstance(result, GradcheckResult)
    assert [(p.name, p.n_mismatches) for p in result.failures] == [("layers[1].b", 1)]
    assert result.failures[0].max_rel_error == pytest.approx(2.0)


# -- what gets called, and what is left alone -----------------------------------------

class WeightDecay(Network):
    """MSE plus ``decay * sum(W ** 2)``, with its backward pass to match."""

    decay = 0.05

    def loss(self, X, y):
        return super().loss(X, y) + self.decay * sum(float(np.sum(l.W ** 2)) for l in self.layers)

    def gradients(self, X, y):
        return [(dW + 2 * self.decay * layer.W, db)
                for (dW, db), layer in zip(super().gradients(X, y), self.layers)]


class ForgotTheDecay(WeightDecay):
    gradients = Network.gradients


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_subclass_loss_is_differenced_even_in_float32(dtype):
    layers = random_layers((2, 3, 1), ("tanh", "sigmoid"), 0, dtype)
    X, y = random_batch((2, 3, 1), 5, 1)
    assert gradcheck(WeightDecay(layers), X, y).ok
    with pytest.raises(GradcheckError, match=r"layers\[0\]\.W.*\n(.*\n)*layers\[1\]\.W"):
        gradcheck(ForgotTheDecay(layers), X, y)


def test_parameters_are_left_exactly_as_they_were_even_on_failure():
    net = Corrupted(random_layers((3, 4, 2), ("relu", "tanh"), 0), layer=0, kind="b",
                    index=(1,), corrupt=lambda g: -g)
    before, view = net.params.copy(), net.layers[0].W
    with pytest.raises(GradcheckError):
        gradcheck(net, *random_batch((3, 4, 2), 3, 1))
    gradcheck(net, *random_batch((3, 4, 2), 3, 1), method="scipy", raise_exception=False)
    assert np.array_equal(net.params, before)
    assert net.layers[0].W is view and np.shares_memory(view, net.params)


# -- the budget: a seeded sample beyond max_coords -------------------------------------

BIG = (40, 50, 10)  # 2,560 parameters


def test_a_network_within_the_budget_has_every_coordinate_checked():
    result = gradcheck(Network(random_layers((20, 40, 10), ("tanh", "tanh"), 0)),
                       *random_batch((20, 40, 10), 3, 1))
    assert not result.sampled
    assert sum(p.n_checked for p in result.params) == 20 * 40 + 40 + 40 * 10 + 10


def test_beyond_the_budget_each_array_gets_a_sample_and_a_random_direction():
    net = Network(random_layers(BIG, ("tanh", "sigmoid"), 0))
    result = gradcheck(net, *random_batch(BIG, 3, 1))
    assert result.sampled and result.ok
    share = 2000 // 4
    assert [p.n_checked for p in result.params] == [share + 1, 50 + 1, share + 1, 10 + 1]
    for p in result.params:
        *coordinates, direction = [e.index for e in p.entries]
        assert direction is None
        assert len(set(coordinates)) == len(coordinates)
    assert sum(p.n_checked for p in gradcheck(net, *random_batch(BIG, 3, 1),
                                              max_coords=None).params) == net.params.size


def test_the_random_direction_catches_an_entry_the_sample_missed():
    clean = gradcheck(Network(random_layers(BIG, ("tanh", "sigmoid"), 0)),
                      *random_batch(BIG, 3, 1))
    sampled = {e.index for e in clean.params[0].entries}
    missed = next((i, j) for i in range(50) for j in range(40) if (i, j) not in sampled)
    net = Corrupted(random_layers(BIG, ("tanh", "sigmoid"), 0), layer=0, kind="W",
                    index=missed, corrupt=lambda g: g * 1.01)
    with pytest.raises(GradcheckError, match=r"layers\[0\]\.W, shape \(50, 40\).*\n.*\n"
                                             r"    random direction "):
        gradcheck(net, *random_batch(BIG, 3, 1))


def test_a_small_budget_samples_even_the_document_network():
    result = gradcheck(document_network(), data.X, data.y, max_coords=4)
    assert result.sampled
    assert [p.n_checked for p in result.params] == [2, 2, 2, 2]


def test_the_same_seed_checks_the_same_coordinates_with_the_same_result():
    net = Network(random_layers(BIG, ("sigmoid", "tanh"), 3))
    X, y = random_batch(BIG, 3, 4)
    first, again = gradcheck(net, X, y, seed=7), gradcheck(net, X, y, seed=7)
    assert first == again
    other = gradcheck(net, X, y, seed=8)
    assert ([e.index for e in first.params[0].entries]
            != [e.index for e in other.params[0].entries])


# -- the scipy method ------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scipy_method_agrees_more_closely_and_estimates_its_error(dtype):
    net = Network(random_layers((3, 4, 2), ("tanh", "sigmoid"), 0, dtype))
    result = gradcheck(net, *random_batch((3, 4, 2), 3, 1), method="scipy")
    assert result.ok and result.eps == 1e-2
    entries = [e for p in result.params for e in p.entries]
    assert all(0 <= e.error_estimate < 1e-9 for e in entries)
    if dtype == np.float64:
        assert max(p.max_rel_error for p in result.params) < 1e-9


def test_scipy_method_catches_a_sign_flip():
    net = Corrupted(document_network().layers, layer=0, kind="b", index=(1,),
                    corrupt=lambda g: -g)
    with pytest.raises(GradcheckError, match=r"method 'scipy'(.*\n)*    \(1,\) b2 "):
        gradcheck(net, *alice(), method="scipy")


class Staircase(Network):
    """A loss with a staircase in ``W1[0, 0]``, as if that weight were quantised."""

    def loss(self, X, y):
        return super().loss(X, y) + 1e-3 * np.floor(self.layers[0].W[0, 0] * 1e3)


def test_scipy_entries_that_do_not_converge_are_unreliable_not_failures():
    net = Staircase(document_network().layers)
    net.layers[0].W[0, 0] = 1.00037
    result = gradcheck(net, *alice(), method="scipy")
    w1 = result.params[0].entries[0]
    assert w1.unreliable and not w1.mismatch
    assert w1.error_estimate > 1e-3
    assert [p.n_unreliable for p in result.params] == [1, 0, 0, 0]


# -- relu kinks ------------------------------------------------------------------------

def test_a_step_across_a_relu_kink_is_unreliable_not_a_failure():
    # Z = 1e-7 * w + 0.5 * v + b sits 1e-7 above the kink: a ±eps step in b
    # or v crosses it, a step in w (times 1e-7) does not.
    net = Network([Dense([[1.0, 0.0]], [0.0], "relu")])
    result = gradcheck(net, [[1e-7, 0.5]], [[1.0]])
    W, b = result.params
    assert [e.unreliable for e in W.entries] == [False, True]
    assert [e.unreliable for e in b.entries] == [True]
    assert result.ok
    tolerance = result.atol + result.rtol
    assert all(e.abs_error > tolerance for e in W.entries[1:] + b.entries)


def test_a_relu_unit_exactly_at_its_kink_is_unreliable():
    net = Network(random_layers((2, 3, 1), ("relu", "sigmoid"), 0))
    for layer in net.layers:
        layer.b[...] = 0
    result = gradcheck(net, [[0.0, 0.0], [1.0, -2.0]], [1.0, 0.0])
    assert [p.n_unreliable for p in result.params] == [0, 3, 0, 0]


# -- bad input -------------------------------------------------------------------------

def test_bad_arguments_are_refused_with_their_name():
    net, (X, y) = document_network(), alice()
    with pytest.raises(TypeError, match="net must be a matnn.Network, got list"):
        gradcheck([net], X, y)
    with pytest.raises(ValueError, match="unknown method 'forward'"):
        gradcheck(net, X, y, method="forward")
    with pytest.raises(ValueError, match="eps must be a finite number > 0, got 0.0"):
        gradcheck(net, X, y, eps=0)
    with pytest.raises(ValueError, match="rtol must be a finite number >= 0, got -1.0"):
        gradcheck(net, X, y, rtol=-1)
    with pytest.raises(ValueError, match="max_coords must be >= 1, got 0"):
        gradcheck(net, X, y, max_coords=0)
    with pytest.raises(ValueError, match=r"X has 3 columns \(shape \(1, 3\)\)"):
        gradcheck(net, [[1, 2, 3]], y)
    with pytest.raises(ValueError, match=r"X has no samples"):
        gradcheck(net, np.empty((0, 2)), np.empty(0))


def test_zero_tolerances_leave_only_the_numeric_sides_own_rounding_error():
    result = gradcheck(document_network(), *alice(), rtol=0, atol=0, raise_exception=False)
    assert (result.rtol, result.atol) == (0.0, 0.0)
    entries = [e for p in result.params for e in p.entries]
    for e in entries:
        assert e.mismatch == (abs(e.analytic - e.numeric) > e.error_estimate)
    # The bound is the float64 rounding of a loss of about 0.23 over a step of 1e-5.
    assert all(0 < e.error_estimate < 1e-9 for e in entries)


def test_a_large_loss_does_not_fail_a_correct_gradient():
    # relu outputs grow with the inputs, so the loss is in the thousands here and
    # each loss evaluation rounds at about 1e-13; a fixed tolerance would report
    # the difference quotient's rounding as a wrong gradient.
    net = Network.from_sizes([2, 3, 1], "relu", seed=15862)
    X = np.random.default_rng(0).uniform(-80, 80, (3, 2))
    y = np.zeros(3)
    assert net.loss(X, y) > 100
    assert gradcheck(net, X, y).ok


class WrongShapes(Network):
    def gradients(self, X, y):
        return [(dW.T, db) for dW, db in super().gradients(X, y)]


def test_gradients_of_the_wrong_shape_are_reported_as_such():
    net = WrongShapes(random_layers((3, 2, 1), ("tanh", "tanh"), 0))
    with pytest.raises(ValueError, match=r"net.gradients\(\)\[0\] gives dW of shape \(3, 2\) "
                                         r"but layers\[0\].W has shape \(2, 3\)"):
        gradcheck(net, [[1, 2, 3]], [1])


@pytest.mark.parametrize("eps, problem", [(1e-300, "too small"), (1e-13, "too small"),
                                          (1e308, "too large"), (1e4, "too large")])
def test_an_absurd_step_is_refused_rather_than_blamed_on_the_gradient(eps, problem):
    # With weights of 1, 1 + 1e-300 == 1 in float64: the step vanishes, and
    # 1 + 1e308 - (1 - 1e308) overflows; either way the differences would
    # say nothing about the gradient.
    message = f"eps={eps:g} is {problem} for parameters as large as 1"
    with pytest.raises(ValueError, match=re.escape(message)):
        gradcheck(document_network(), *alice(), eps=eps)


def test_the_refused_steps_scale_with_the_parameters():
    # Weights of 1e6 have an ulp of about 1e-10: a step of 1e-8 is a few
    # hundred ulps, and the difference of the losses keeps ~2 digits.
    big = Network([Dense(np.full((1, 2), 1e6), np.zeros(1), "identity")])
    with pytest.raises(ValueError, match=r"use eps >= 1e-06"):
        gradcheck(big, [[1e-6, 2e-6]], [0.0], eps=1e-8)
    huge = Network([Dense(np.full((1, 2), 1e306), np.zeros(1), "sigmoid")])
    with pytest.raises(ValueError, match="the steps p ± eps overflow float64"):
        gradcheck(huge, [[0.0, 0.0]], [0.5], eps=1e308)


def test_steps_inside_the_range_are_used_as_given():
    for eps in (1e-11, 1.0):
        result = gradcheck(document_network(), *alice(), eps=eps, method="scipy",
                           raise_exception=False)
        assert result.eps == eps and result.ok
