"""matnn.gradcheck over hypothesis-drawn networks (every activation, loss,
depth 1-3, widths 1-5, batches of 1, 3 and 8, float32 and float64), healthy
and with one wrong gradient entry."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from matnn import ACTIVATIONS, LOSSES, GradcheckError, Network, gradcheck
from test_gradient_check import Corrupted, random_layers

ALL = tuple(sorted(ACTIVATIONS))
#: The outputs the cross-entropies take: rows that are distributions for
#: cross_entropy, probabilities for the binary one.
PROBABILITY_OUTPUTS = {"cross_entropy": ("softmax",), "binary_cross_entropy": ("sigmoid", "softmax")}
DTYPES = (np.float64, np.float32)


@st.composite
def checks(draw, activations=ALL):
    """An architecture, one of the losses it can take, and a batch in its shape:
    ``(spec, X, y)``, with ``spec`` as :func:`network` takes it."""
    loss = draw(st.sampled_from([name for name in sorted(LOSSES) if name == "mse" or
                                 set(PROBABILITY_OUTPUTS[name]) & set(activations)]))
    outputs = [a for a in PROBABILITY_OUTPUTS.get(loss, ()) if a in activations]
    depth = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 5), min_size=depth, max_size=depth))
    sizes.append(draw(st.integers(2 if loss == "cross_entropy" else 1, 5)))
    layer_activations = draw(st.lists(st.sampled_from(activations),
                                      min_size=depth, max_size=depth))
    if loss != "mse":
        layer_activations[-1] = draw(st.sampled_from(outputs))
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.sampled_from([1, 3, 8]))
    X = draw(hnp.arrays(np.float64, (n, sizes[0]), elements=st.floats(-3, 3)))
    if loss == "cross_entropy":
        y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, sizes[-1] - 1)))
    else:
        y = draw(hnp.arrays(np.float64, (n, sizes[-1]), elements=st.floats(0, 1)))
    return (sizes, layer_activations, loss, seed), X, y


def network(spec, dtype, shift=0):
    """The drawn network, weights from N(0, 1/fan_in), with every activation moved
    ``shift`` places along the built-ins (the output's along those its loss takes)."""
    sizes, layer_activations, loss, seed = spec
    moved = [ALL[(ALL.index(a) + shift) % len(ALL)] for a in layer_activations]
    if loss != "mse":
        outputs = PROBABILITY_OUTPUTS[loss]
        moved[-1] = outputs[(outputs.index(layer_activations[-1]) + shift) % len(outputs)]
    # Softmax over one unit is the constant 1, which a Dense layer refuses: a
    # one-unit output takes sigmoid instead, a hidden layer a second unit.
    if moved[-1] == "softmax" and sizes[-1] == 1:
        moved[-1] = "sigmoid"
    sizes = sizes[:1] + [max(n, 2) if a == "softmax" else n for n, a in zip(sizes[1:], moved)]
    return Network(random_layers(sizes, moved, seed, dtype), loss=loss)


# Each drawn architecture is checked with every built-in activation in each of
# its layers (in turn, as a cycle), in both dtypes, so that every drawn case
# covers the activations x dtypes that a grid would.
@settings(max_examples=20)
@given(checks())
def test_backprop_passes_gradcheck_on_any_architecture(check):
    spec, X, y = check
    nets = {(net.activations, net.dtype.name): net for net in (
        network(spec, dtype, shift) for shift in range(len(ALL)) for dtype in DTYPES)}
    for net in nets.values():
        if net.dtype == np.float32 and net.activations[-1] == "softmax" \
                and net.loss_fn.name == "binary_cross_entropy":
            # Unfused, log(1 - p) keeps only a few float32 digits where p is
            # near 1, so this network's own gradient misses float32's rtol.
            continue
        result = gradcheck(net, X, y)
        # Every coordinate is checked, and only a kink can make one unreliable.
        sizes = [a.size for layer in net.layers for a in (layer.W, layer.b)]
        assert [p.n_checked for p in result.params] == sizes
        if not any(layer.activation.kinks for layer in net.layers):
            assert sum(p.n_unreliable for p in result.params) == 0


@st.composite
def corrupted_checks(draw):
    """A kink-free check plus one gradient entry ``(layer, kind, index)`` to corrupt."""
    spec, X, y = draw(checks(activations=("identity", "sigmoid", "tanh")))
    net = network(spec, draw(st.sampled_from(DTYPES)))
    layer = draw(st.integers(0, len(net.layers) - 1))
    kind = draw(st.sampled_from("Wb"))
    shape = getattr(net.layers[layer], kind).shape
    index = tuple(draw(st.integers(0, n - 1)) for n in shape)
    return net, X, y, (layer, kind, index)


@given(corrupted_checks())
def test_one_wrong_entry_is_caught_and_named_on_any_architecture(check):
    net, X, y, (layer, kind, index) = check
    # Off by more than any default tolerance, whatever the entry's size.
    net = Corrupted(net.layers, layer=layer, kind=kind, index=index,
                    corrupt=lambda g: g + 0.01 * (1 + abs(g)), loss=net.loss_fn)
    with pytest.raises(GradcheckError) as caught:
        gradcheck(net, X, y)
    (failure,) = caught.value.result.failures
    assert failure.name == f"layers[{layer}].{kind}"
    assert [e.index for e in failure.worst()] == [index]
