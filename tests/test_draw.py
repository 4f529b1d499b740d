"""The network diagram: the document's names and numbers, and valid XML always."""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matnn
from matnn import data, scalar
from matnn.draw import WIDE, draw
from matnn.svg import fmt

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg):
    return [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]


def edge_tips(svg):
    """{name: (weight, gradient or None)} from every edge's tooltip."""
    tips = {}
    for title in ET.fromstring(svg).iter(f"{SVG}title"):
        m = re.fullmatch(r"(\S+) = (\S+)(?:, dL/d\S+ = (\S+))?", title.text)
        tips[m[1]] = (float(m[2]), None if m[3] is None else float(m[3]))
    return tips


def all_ones():
    return scalar.OurNeuralNetwork(**{p: 1.0 if p[0] == "w" else 0.0 for p in scalar.PARAM_NAMES})


def test_document_names_sit_on_the_right_entries():
    # Nine distinct values: each name must carry the value the scalar shim gives it.
    values = {p: 0.1 * (k + 1) * (-1) ** k for k, p in enumerate(scalar.PARAM_NAMES)}
    svg = draw(scalar.to_network(scalar.OurNeuralNetwork(**values)))
    tips = edge_tips(svg)
    for p in ("w1", "w2", "w3", "w4", "w5", "w6"):
        assert tips[p][0] == pytest.approx(values[p], rel=1e-5)
    shown = texts(svg)
    for p in ("b1", "b2", "b3"):
        assert f"{p} = {fmt(values[p])}" in shown
    assert {"x1", "x2", "h1", "h2", "o1"} <= set(shown)


def test_alice_neuron_values_as_the_lesson_prints_them():
    x, y_true = data.sample("Alice")
    shown = texts(draw(scalar.to_network(all_ones()), x, y_true))
    # The lesson's numbers for its worked example.
    assert "h1 = 0.0474" in shown and "h2 = 0.0474" in shown
    assert "o1 = 0.524" in shown


def test_alice_gradients_match_the_scalar_chain_rule():
    x, y_true = data.sample("Alice")
    doc = all_ones()
    tips = edge_tips(draw(scalar.to_network(doc), x, y_true))
    expected = doc.gradients(x, y_true)
    for p in ("w1", "w2", "w3", "w4", "w5", "w6"):
        assert tips[p][1] == pytest.approx(expected[p], rel=1e-5)
    # The lesson's dL/dw1 is 0.0214 rounded by hand; unrounded it is 0.02147.
    assert tips["w1"][1] == pytest.approx(0.0214, abs=1e-4)


def test_edge_colour_and_width_follow_sign_and_magnitude():
    net = matnn.Network([matnn.Dense([[3.0, -0.5]], [0.0])])
    lines = list(ET.fromstring(draw(net)).iter(f"{SVG}line"))
    edges = {ln.find(f"{SVG}title").text.split(" =")[0]: ln for ln in lines
             if ln.find(f"{SVG}title") is not None}
    strong, weak = edges["W1[0, 0]"], edges["W1[0, 1]"]
    assert float(strong.get("stroke-width")) > float(weak.get("stroke-width"))
    assert strong.get("stroke") != weak.get("stroke")


def test_wide_layers_are_drawn_a_layer_at_a_time():
    net = matnn.Network.from_sizes([WIDE + 1, 3, 1], seed=0)
    svg = draw(net, np.ones(WIDE + 1), [1.0])
    root = ET.fromstring(svg)
    assert not list(root.iter(f"{SVG}circle"))
    assert any("17 units" == t for t in texts(svg))
    assert any(t.startswith("W1: 3 x 17") for t in texts(svg))


def test_numbers_are_compact():
    assert [fmt(v) for v in (1.0, 0.047425, 1e300, -1e-300, -0.0, 12345.0)] == \
        ["1", "0.0474", "1e300", "-1e-300", "0", "1.23e4"]


@pytest.mark.parametrize("kwargs, message", [
    ({"y": [1.0]}, "y needs X"),
    ({"X": [1.0, 2.0, 3.0]}, "X must be one sample of shape (2,)"),
    ({"X": [1.0, 2.0], "y": [1.0, 0.0]}, "y must hold 1 target"),
])
def test_bad_input_is_named(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        draw(matnn.Network.from_sizes([2, 2, 1], seed=0), **kwargs)


def test_not_a_network():
    with pytest.raises(TypeError, match="net must be a matnn.Network"):
        draw("2-2-1")


EXTREME = st.sampled_from([1e300, -1e300, 1e-300, -1e-300, 0.0, -0.0, 1.0, -2.5, 5e-324])


@st.composite
def networks(draw_):
    sizes = draw_(st.lists(st.integers(1, WIDE + 3), min_size=2, max_size=5))
    acts = draw_(st.lists(st.sampled_from(sorted(matnn.ACTIVATIONS)),
                          min_size=len(sizes) - 1, max_size=len(sizes) - 1))
    # Over one unit softmax is the constant 1, which a Dense layer refuses.
    sizes = sizes[:1] + [max(n, 2) if act == "softmax" else n for n, act in zip(sizes[1:], acts)]
    layers = []
    for n_in, n_out, act in zip(sizes[:-1], sizes[1:], acts):
        W = draw_(st.lists(EXTREME, min_size=n_in * n_out, max_size=n_in * n_out))
        b = draw_(st.lists(EXTREME, min_size=n_out, max_size=n_out))
        layers.append(matnn.Dense(np.reshape(W, (n_out, n_in)), b, act))
    return matnn.Network(layers)


@settings(max_examples=40)
@given(net=networks(), with_x=st.booleans(), with_y=st.booleans(), data_=st.data())
def test_svg_is_well_formed_xml_for_any_network(net, with_x, with_y, data_):
    X = y = None
    if with_x:
        X = data_.draw(st.lists(EXTREME, min_size=net.n_in, max_size=net.n_in))
        if with_y:
            y = data_.draw(st.lists(EXTREME, min_size=net.n_out, max_size=net.n_out))
    root = ET.fromstring(draw(net, X, y))
    assert root.tag == f"{SVG}svg"
