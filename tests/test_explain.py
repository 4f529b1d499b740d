"""The worked backpropagation of `matnn explain`: the document's numbers, and
the matrix form agreeing with the scalar chain for every parameter."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matnn import data, scalar
from matnn.explain import FACTORS, GRADIENT_ENTRIES, explain, report, round_like_document


def three_figures(value):
    return float(f"{value:.3g}")


@pytest.fixture(scope="module")
def alice():
    return explain()


def test_alice_forward_pass(alice):
    bp = alice.backprop
    assert (bp.x1, bp.x2, bp.y_true) == (-2, -1, 1)
    assert three_figures(bp.h1) == 0.0474
    assert three_figures(bp.h2) == 0.0474
    assert three_figures(bp.o1) == 0.524


def test_alice_partial_derivative_of_w1(alice):
    names = [name for name, _ in alice.factors]
    assert names == ["d_L_d_ypred", "d_ypred_d_h1", "d_h1_d_w1"]
    assert [three_figures(v) for _, v in alice.factors] == [-0.953, 0.249, -0.0904]
    assert three_figures(alice.chain) == 0.0215


def test_rounding_as_it_goes_gives_the_documents_printed_numbers(alice):
    assert alice.rounded_factors == (-0.952, 0.249, -0.0904)
    assert alice.rounded_chain == 0.0214
    assert alice.is_documents_example


def test_rounding_rounds_y_pred_before_the_loss_derivative():
    bp = explain("b3").backprop
    (d_loss,) = round_like_document(bp, ["d_L_d_ypred"])
    assert d_loss == three_figures(-2 * (1 - three_figures(bp.y_pred)))


def test_alice_matrix_entry_equals_the_scalar_chain(alice):
    dW1 = alice.gradients[0][0]
    delta1 = alice.deltas[0]
    assert alice.matrix == dW1[0, 0]
    assert dW1[0, 0] == pytest.approx(delta1[0, 0] * alice.backprop.x1, rel=1e-15)
    assert alice.matrix == pytest.approx(alice.chain, rel=1e-14)


def test_the_deltas_hold_the_documents_chains(alice):
    bp = alice.backprop
    delta1, delta2 = alice.deltas
    W2 = alice.network.layers[1].W
    assert alice.dL_dA2[0, 0] == pytest.approx(bp.d_L_d_ypred, rel=1e-15)
    assert delta2[0, 0] == pytest.approx(bp.d_L_d_ypred * bp.d_ypred_d_b3, rel=1e-14)
    assert (delta2 @ W2)[0, 0] == pytest.approx(bp.d_L_d_ypred * bp.d_ypred_d_h1, rel=1e-14)
    assert delta1[0, 0] == pytest.approx(
        bp.d_L_d_ypred * bp.d_ypred_d_h1 * bp.d_h1_d_b1, rel=1e-14)
    assert delta1[0, 1] == pytest.approx(
        bp.d_L_d_ypred * bp.d_ypred_d_h2 * bp.d_h2_d_b2, rel=1e-14)


@given(
    param=st.sampled_from(scalar.PARAM_NAMES),
    sample=st.sampled_from(data.NAMES),
    seed=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
)
def test_every_matrix_entry_equals_its_scalar_chain(param, sample, seed):
    e = explain(param, sample, seed=seed)
    # Saturated sigmoids make f'(z) = A (1 - A) lose relative accuracy in
    # both forms, so the tolerance is absolute there; the values are O(1).
    assert e.matrix == pytest.approx(e.chain, rel=1e-12, abs=1e-14)
    assert e.chain == e.backprop.partial(param)


def test_the_tables_cover_every_parameter_and_factor():
    assert set(GRADIENT_ENTRIES) == set(scalar.PARAM_NAMES)
    assert set(FACTORS) == {name for chain in scalar.CHAINS.values() for name in chain}


def test_a_seeded_network_is_the_documents_draw():
    np.random.seed(7)
    expected = scalar.OurNeuralNetwork()
    e = explain("w4", "Charlie", seed=7)
    assert scalar.from_network(e.network).params() == expected.params()
    assert e.chain == expected.gradients(*data.sample("Charlie"))["w4"]
    assert not e.is_documents_example


def test_a_raw_sample():
    e = explain("w6", x=[-7, -3], y_true=1)
    assert (e.backprop.x1, e.backprop.x2, e.backprop.y_true) == (-7, -3, 1)
    np.testing.assert_array_equal(e.activations[0], [[-7, -3]])
    assert e.sample == "the sample"


def test_report_shows_the_worked_example(alice):
    text = report(alice)
    for shown in [
        "dL/dw1 for Alice",
        "every weight 1 and every bias 0",
        "= f(-3) = 0.0474",
        "= 0.524 = y_pred",
        "dL/dw1 = dL/dy_pred * dy_pred/dh1 * dh1/dw1",
        "dL/dy_pred  = -2 (y_true - y_pred) = -0.953",
        "dy_pred/dh1 = w5 f'(sum_o1)        = 0.249",
        "dh1/dw1     = x1 f'(sum_h1)        = -0.0904",
        "dL/dw1      = the product          = 0.0215",
        "delta2 = dL/dA2 * A2*(1-A2)",
        "delta1 = (delta2 @ W2) * A1*(1-A1)",
        "dW1[0, 0] = delta1[0, 0] * X[0, 0] = -0.0107 * -2 = 0.0215",
        f"scalar chain  {alice.chain!r}",
        f"matrix entry  {alice.matrix!r}",
    ]:
        assert shown in text
    # The note on rounding is a wrapped paragraph.
    note = " ".join(text.split())
    assert "-0.952 * 0.249 * -0.0904 = 0.0214" in note
    assert "the document shows -0.952 instead of -0.953 and 0.0214 instead of 0.0215" in note


def test_report_of_a_bias_has_no_input_factor():
    text = " ".join(report(explain("b2", "Diana")).split())
    assert "db1[1] = delta1[0, 1] = " in text
    assert "dh2/db2: A1[0, 1]*(1-A1[0, 1]) inside delta1" in text


@pytest.mark.parametrize("name, x, y_true", [
    ("Emily", (128 - 135, 63 - 66), 1),   # the lesson expects F
    ("frank", (155 - 135, 68 - 66), 0),   # and M
])
def test_emily_and_frank_are_samples_with_the_gender_the_lesson_expects(name, x, y_true):
    e = explain("w1", name)
    assert (e.backprop.x1, e.backprop.x2, e.backprop.y_true) == (*x, y_true)
    assert e.sample == name.capitalize()
    assert report(e).startswith(f"dL/dw1 for {name.capitalize()}: x1 = {x[0]}, x2 = {x[1]}, "
                                f"y_true = {y_true}")


def sigmoid_slope(z):
    """The sigmoid's derivative written as e^-z / (1 + e^-z)^2, for z > 0."""
    return np.exp(-z) / (1 + np.exp(-z)) ** 2


def test_a_saturated_sigmoid_is_said_to_be():
    # Every weight 1: h1 = h2 = f(30 + 2) = 1 to 13 figures; o1 = f(2) is not saturated.
    text = report(explain("w1", x=[30, 2], y_true=0))
    slope = f"{sigmoid_slope(32.0):.3g}"
    assert slope == "1.27e-14"
    assert "h1 = f(w1 x1 + w2 x2 + b1) = f(32) = 1\n" in text
    assert (f"  h1 is saturated: f'(32) = {slope} scales the gradients of w1, w2 and b1 "
            "to almost 0") in text
    assert f"  h2 is saturated: f'(32) = {slope} scales the gradients of w3, w4 and b2" in text
    assert "o1 is saturated" not in text


def test_a_slope_that_underflows_is_said_to_be_exactly_zero():
    # f(40) rounds to exactly 1 in float64, so its slope A (1 - A) is exactly 0.
    text = report(explain("w1", x=[40, 0], y_true=0))
    assert "h1 is saturated: f'(40) = 0 scales the gradients of w1, w2 and b1 to 0\n" in text


def test_the_worked_example_is_not_saturated(alice):
    assert "saturated" not in report(alice)


@pytest.mark.parametrize("kwargs, message", [
    ({"param": "w7"}, "unknown parameter 'w7'"),
    ({"sample": "Zoe"}, "unknown person 'Zoe'; choose one of .*'Emily', 'Frank'"),
    ({"x": [1, 2, 3], "y_true": 1}, "two finite numbers"),
    ({"x": [1, np.nan], "y_true": 1}, "two finite numbers"),
    ({"x": [1, 2]}, "needs its target"),
    ({"x": [1, 2], "y_true": np.inf}, "y_true must be a finite number"),
])
def test_bad_requests_are_value_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        explain(**kwargs)


def test_a_seeded_explanation_leaves_the_global_rng_alone():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    explain(seed=9)
    assert np.random.random() == expected
