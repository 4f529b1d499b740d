"""matnn.gradcheck over many architectures: a representative grid, then
hypothesis-drawn networks, healthy and with one wrong gradient entry."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from matnn import ACTIVATIONS, GradcheckError, Network, gradcheck
from test_gradient_check import Corrupted, random_batch, random_layers

# Every depth 1-3, widths 1-5 and batch sizes 1, 3 and 8, each at least twice.
ARCHITECTURES = [
    ((1, 1), 1),
    ((5, 2), 8),
    ((2, 3, 1), 3),
    ((4, 5, 5), 1),
    ((3, 1, 4, 2), 8),
    ((5, 4, 3, 5), 3),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("sizes, batch", ARCHITECTURES)
def test_every_coordinate_of_a_healthy_network_passes(sizes, batch, activation, dtype):
    net = Network(random_layers(sizes, [activation] * (len(sizes) - 1), 0, dtype))
    result = gradcheck(net, *random_batch(sizes, batch, 1))
    assert [p.n_checked for p in result.params] == [p.size for p in
                                                    (a for l in net.layers for a in (l.W, l.b))]
    if activation != "relu":
        assert sum(p.n_unreliable for p in result.params) == 0


@st.composite
def checks(draw, activations=tuple(sorted(ACTIVATIONS))):
    """A network with weights from N(0, 1/fan_in) and a batch in its shape."""
    depth = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 5), min_size=depth + 1, max_size=depth + 1))
    layer_activations = draw(st.lists(st.sampled_from(activations),
                                      min_size=depth, max_size=depth))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    layers = random_layers(sizes, layer_activations, draw(st.integers(0, 2**32 - 1)), dtype)
    n = draw(st.sampled_from([1, 3, 8]))
    X = draw(hnp.arrays(np.float64, (n, sizes[0]), elements=st.floats(-3, 3)))
    y = draw(hnp.arrays(np.float64, (n, sizes[-1]), elements=st.floats(0, 1)))
    return layers, X, y


@given(checks())
def test_backprop_passes_gradcheck_on_any_architecture(check):
    layers, X, y = check
    assert gradcheck(Network(layers), X, y).ok


@st.composite
def corrupted_checks(draw):
    """A kink-free check plus one gradient entry ``(layer, kind, index)`` to corrupt."""
    layers, X, y = draw(checks(activations=("identity", "sigmoid", "tanh")))
    layer = draw(st.integers(0, len(layers) - 1))
    kind = draw(st.sampled_from("Wb"))
    shape = getattr(layers[layer], kind).shape
    index = tuple(draw(st.integers(0, n - 1)) for n in shape)
    return layers, X, y, (layer, kind, index)


@given(corrupted_checks())
def test_one_wrong_entry_is_caught_and_named_on_any_architecture(check):
    layers, X, y, (layer, kind, index) = check
    # Off by more than any default tolerance, whatever the entry's size.
    net = Corrupted(layers, layer=layer, kind=kind, index=index,
                    corrupt=lambda g: g + 0.01 * (1 + abs(g)))
    with pytest.raises(GradcheckError) as caught:
        gradcheck(net, X, y)
    (failure,) = caught.value.result.failures
    assert failure.name == f"layers[{layer}].{kind}"
    assert [e.index for e in failure.worst()] == [index]
