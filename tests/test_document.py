"""The document's own numbers, one test each, for the scalar shim and the matrix form."""

import numpy as np
import pytest

from matnn import Dense, Network, data, scalar

ALL_ONES = {name: (1.0 if name.startswith("w") else 0.0) for name in scalar.PARAM_NAMES}


def test_neuron_with_weights_0_1_and_bias_4_outputs_0_999():
    neuron = scalar.Neuron(np.array([0, 1]), 4)
    assert neuron.feedforward(np.array([2, 3])) == 0.9990889488055994


def test_neuron_as_a_one_row_dense_layer():
    net = Network([Dense([[0, 1]], [4])])
    assert net.predict([[2, 3]])[0, 0] == pytest.approx(0.9990889488055994, rel=1e-15)


def test_fixed_network_outputs_0_7216():
    assert scalar.FixedNetwork().feedforward(np.array([2, 3])) == 0.7216325609518421


def test_fixed_network_hidden_neurons_are_0_9526():
    fixed = scalar.FixedNetwork()
    x = np.array([2, 3])
    assert round(fixed.h1.feedforward(x), 4) == 0.9526
    assert round(fixed.h2.feedforward(x), 4) == 0.9526


def test_fixed_network_in_matrix_form():
    net = Network([Dense([[0, 1], [0, 1]], [0, 0]), Dense([[0, 1]], [0])])
    X, H, O = net.forward([[2, 3]])
    assert np.round(H, 4).tolist() == [[0.9526, 0.9526]]
    assert O[0, 0] == pytest.approx(0.7216325609518421, rel=1e-15)


def test_mse_of_guessing_male_for_everyone_is_0_5():
    assert scalar.mse_loss(np.array([1, 0, 0, 1]), np.array([0, 0, 0, 0])) == 0.5


def test_matrix_loss_of_the_all_zero_guess_is_0_5():
    # An identity output with zero weights always says 0 ("everyone is male").
    net = Network([Dense([[0.0, 0.0]], [0.0], "identity")])
    assert net.loss(data.X, data.y) == 0.5


def test_shifted_table_matches_the_document():
    assert data.X.tolist() == [[-2, -1], [25, 6], [17, 4], [-15, -6]]
    assert data.y.tolist() == [1, 0, 0, 1]
    assert data.EMILY.tolist() == [-7, -3]
    assert data.FRANK.tolist() == [20, 2]
    assert data.X.dtype.kind == "i"


def test_document_data_cannot_be_modified_by_accident():
    with pytest.raises(ValueError):
        data.X[0, 0] = 0


def test_sample_by_name():
    x, y_true = data.sample("alice")
    assert x.tolist() == [-2, -1] and y_true == 1
    with pytest.raises(ValueError, match="unknown person 'Eve'"):
        data.sample("Eve")


def test_shim_draws_the_document_initial_weights():
    np.random.seed(7)
    expected = np.random.normal(size=9)
    np.random.seed(7)
    drawn = scalar.OurNeuralNetwork().params()
    assert list(drawn.values()) == expected.tolist()


# -- the worked example: Alice alone, every weight 1, every bias 0 -----------

@pytest.fixture
def alice_backprop():
    x, y_true = data.sample("Alice")
    return scalar.OurNeuralNetwork(**ALL_ONES).backprop(x, y_true)


def test_alice_hidden_activation_h1_is_0_0474(alice_backprop):
    assert round(alice_backprop.h1, 4) == 0.0474
    assert round(alice_backprop.h2, 4) == 0.0474


def test_alice_output_o1_is_0_524(alice_backprop):
    assert round(alice_backprop.o1, 3) == 0.524


def test_alice_chain_rule_factors(alice_backprop):
    assert round(alice_backprop.d_L_d_ypred, 3) == -0.953
    assert round(alice_backprop.d_ypred_d_h1, 3) == 0.249
    assert round(alice_backprop.d_h1_d_w1, 4) == -0.0904


def test_alice_partial_derivative_of_w1(alice_backprop):
    exact = alice_backprop.partial("w1")
    assert round(exact, 4) == 0.0215
    assert exact == scalar.OurNeuralNetwork(**ALL_ONES).gradients(*data.sample("Alice"))["w1"]


def test_document_prints_0_0214_because_it_rounds_the_factors_first(alice_backprop):
    # -2 * (1 - 0.524) is -0.952 once o1 is rounded to 0.524; the exact value is -0.9526.
    assert round(-2 * (1 - round(alice_backprop.o1, 3)), 3) == -0.952
    assert round(-0.952 * 0.249 * -0.0904, 4) == 0.0214


def test_alice_partial_derivative_of_w1_in_matrix_form(alice_backprop):
    net = scalar.to_network(scalar.OurNeuralNetwork(**ALL_ONES))
    (dW1, _), _ = net.gradients(data.X[:1], data.y[:1])
    assert dW1[0, 0] == pytest.approx(alice_backprop.partial("w1"), rel=1e-14)
