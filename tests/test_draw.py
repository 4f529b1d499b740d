"""The network diagram: the document's names and numbers, and valid XML always."""

import base64
import os
import re
import struct
import xml.etree.ElementTree as ET
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matnn
from matnn import data, scalar
from matnn.draw import WIDE, draw, neuron_maps
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
    svg = str(draw(scalar.to_network(scalar.OurNeuralNetwork(**values))))
    tips = edge_tips(svg)
    for p in ("w1", "w2", "w3", "w4", "w5", "w6"):
        assert tips[p][0] == pytest.approx(values[p], rel=1e-5)
    shown = texts(svg)
    for p in ("b1", "b2", "b3"):
        assert f"{p} = {fmt(values[p])}" in shown
    assert {"x1", "x2", "h1", "h2", "o1"} <= set(shown)


def test_alice_neuron_values_as_the_lesson_prints_them():
    x, y_true = data.sample("Alice")
    shown = texts(str(draw(scalar.to_network(all_ones()), x, y_true)))
    # The lesson's numbers for its worked example.
    assert "h1 = 0.0474" in shown and "h2 = 0.0474" in shown
    assert "o1 = 0.524" in shown


def test_alice_gradients_match_the_scalar_chain_rule():
    x, y_true = data.sample("Alice")
    doc = all_ones()
    tips = edge_tips(str(draw(scalar.to_network(doc), x, y_true)))
    expected = doc.gradients(x, y_true)
    for p in ("w1", "w2", "w3", "w4", "w5", "w6"):
        assert tips[p][1] == pytest.approx(expected[p], rel=1e-5)
    # The lesson's dL/dw1 is 0.0214 rounded by hand; unrounded it is 0.02147.
    assert tips["w1"][1] == pytest.approx(0.0214, abs=1e-4)


def test_edge_colour_and_width_follow_sign_and_magnitude():
    net = matnn.Network([matnn.Dense([[3.0, -0.5]], [0.0])])
    lines = list(ET.fromstring(str(draw(net))).iter(f"{SVG}line"))
    edges = {ln.find(f"{SVG}title").text.split(" =")[0]: ln for ln in lines
             if ln.find(f"{SVG}title") is not None}
    strong, weak = edges["W1[0, 0]"], edges["W1[0, 1]"]
    assert float(strong.get("stroke-width")) > float(weak.get("stroke-width"))
    assert strong.get("stroke") != weak.get("stroke")


def test_wide_layers_are_drawn_a_layer_at_a_time():
    net = matnn.Network.from_sizes([WIDE + 1, 3, 1], seed=0)
    svg = str(draw(net, np.ones(WIDE + 1), [1.0]))
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
    root = ET.fromstring(str(draw(net, X, y)))
    assert root.tag == f"{SVG}svg"


# -- the drawing object --------------------------------------------------------

def test_a_drawing_is_svg_for_jupyter_str_and_files(tmp_path):
    drawing = draw(matnn.Network.from_sizes([2, 2, 1], seed=0))
    svg = str(drawing)
    assert ET.fromstring(svg).tag == f"{SVG}svg"
    assert drawing._repr_svg_() == svg
    assert repr(drawing) == "<matnn.Drawing: 2-2-1 network, sigmoid>"
    path = tmp_path / "net.svg"
    drawing.save(path)
    assert path.read_text(encoding="utf-8") == svg
    assert os.listdir(tmp_path) == ["net.svg"]


def test_a_network_shows_itself_as_its_drawing():
    net = matnn.Network.from_sizes([2, 3, 1], seed=4)
    # Jupyter's SVG formatter accepts str only.
    assert net._repr_svg_() == str(draw(net))


def test_a_failed_save_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "net.svg"
    path.write_text("old", encoding="utf-8")

    def refuse(src, dst):
        raise PermissionError("no")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        draw(matnn.Network.from_sizes([2, 2, 1], seed=0)).save(path)
    assert path.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["net.svg"]


# -- the lesson's diagram: labels clear of each other and of the edges ----------

def text_box(el):
    """The corners of a text element's box, rotated as drawn (about 0.6 em a character)."""
    x, y = float(el.get("x")), float(el.get("y"))
    size = float(el.get("font-size", 12))
    width = 0.6 * size * len(el.text)
    left = {"start": 0, "middle": -width / 2, "end": -width}[el.get("text-anchor")]
    corners = np.array([[left, -0.8 * size], [left + width, -0.8 * size],
                        [left + width, 0.2 * size], [left, 0.2 * size]])
    m = re.search(r"rotate\((\S+) \S+ \S+\)", el.get("transform", ""))
    angle = np.radians(float(m[1])) if m else 0.0
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return corners @ rotation.T + [x, y]


def overlap(a, b):
    """Whether two convex polygons (corners in order) overlap: no separating axis."""
    for poly in (a, b):
        for p, q in zip(poly, np.roll(poly, -1, axis=0)):
            normal = np.array([q[1] - p[1], p[0] - q[0]])
            if np.ptp(normal) == 0 and not normal.any():
                continue
            pa, pb = a @ normal, b @ normal
            if pa.max() <= pb.min() or pb.max() <= pa.min():
                return False
    return True


def alice_diagram():
    x, y_true = data.sample("Alice")
    return ET.fromstring(str(draw(scalar.to_network(all_ones()), x, y_true)))


def test_edge_labels_overlap_no_other_text():
    texts_ = [el for el in alice_diagram().iter(f"{SVG}text")
              if re.match(r"(dL/d)?w\d = ", el.text)]
    assert len(texts_) == 12  # w1..w6, each with its gradient
    others = [el for el in alice_diagram().iter(f"{SVG}text") if el.text]
    for label in texts_:
        for other in others:
            if other.text != label.text:
                assert not overlap(text_box(label), text_box(other)), (label.text, other.text)


def test_no_label_sits_on_an_edge():
    root = alice_diagram()
    # The old labels sat on white boxes over their edges.
    assert not list(root.iter(f"{SVG}rect"))
    edges = [np.array([[float(ln.get("x1")), float(ln.get("y1"))],
                       [float(ln.get("x2")), float(ln.get("y2"))]])
             for ln in root.iter(f"{SVG}line")]
    for el in root.iter(f"{SVG}text"):
        box = text_box(el)
        for edge in edges:
            # A segment is a degenerate polygon: two points.
            assert not overlap(box, edge), (el.text, edge.tolist())


def test_the_loss_says_where_it_comes_from():
    shown = [t.text for t in alice_diagram().iter(f"{SVG}text")]
    # The lesson: y_pred = 0.524 for Alice, target 1; (1 - 0.524)^2 = 0.227.
    assert "loss L = (target - y_pred)\u00b2" in shown
    assert "= (1 - 0.524)\u00b2 = 0.227" in shown


def test_a_matrix_of_mixed_signs_is_drawn_with_both_colours():
    # 98 of the 200 weights positive: 49%, which used to be drawn all red.
    W = np.where(np.arange(200) < 98, 0.5, -0.5).reshape(10, 20)
    net = matnn.Network([matnn.Dense(W, np.zeros(10)), matnn.Dense(np.ones((1, 10)), [0.0])])
    root = ET.fromstring(str(draw(net)))
    # W1's arrow: the first bands, one per sign present; heights are drawn to 0.1 px.
    first, second = [r for r in root.iter(f"{SVG}rect") if r.get("fill-opacity")][:2]
    assert (first.get("fill"), second.get("fill")) == ("#2b6cb0", "#c53030")
    blue, red = float(first.get("height")), float(second.get("height"))
    assert blue / (blue + red) == pytest.approx(0.49, abs=0.01)
    assert "49% positive, 51% negative" in texts(str(draw(net)))


# -- every neuron's map ---------------------------------------------------------

def png_pixels(uri):
    """The RGB pixels of a PNG data URI written with filter type 0, shape (h, w, 3)."""
    blob = base64.b64decode(uri.split(",", 1)[1])
    width, height = struct.unpack(">II", blob[16:24])
    idat = blob[blob.index(b"IDAT") + 4:blob.index(b"IEND") - 8]
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 3 * width + 1)
    assert not rows[:, 0].any()
    return rows[:, 1:].reshape(height, width, 3)


def maps_of(net, **kwargs):
    root = ET.fromstring(str(neuron_maps(net, (-4.0, 4.0), (-4.0, 4.0), resolution=9, **kwargs)))
    return {g.get("data-neuron"): g for g in root.iter(f"{SVG}g") if g.get("data-neuron")}


def test_the_lessons_network_has_a_map_for_h1_h2_and_o1():
    assert list(maps_of(scalar.to_network(all_ones()))) == ["h1", "h2", "o1"]


def test_other_networks_name_their_maps_as_matrix_columns():
    names = list(maps_of(matnn.Network.from_sizes([2, 3, 2], seed=0)))
    assert names == ["A1[:, 0]", "A1[:, 1]", "A1[:, 2]", "A2[:, 0]", "A2[:, 1]"]


def test_a_map_shows_its_neurons_output_over_the_plane():
    # h1 = f(x1) and h2 = f(-x2): blue (high) where x1 > 0, and where x2 < 0.
    net = matnn.Network([matnn.Dense([[1.0, 0.0], [0.0, -1.0]], [0.0, 0.0]),
                         matnn.Dense([[1.0, 1.0]], [0.0])])
    maps = maps_of(net)
    h1 = png_pixels(maps["h1"].find(f"{SVG}image").get("href")).astype(int)
    h2 = png_pixels(maps["h2"].find(f"{SVG}image").get("href")).astype(int)
    blue, orange = h1[:, -1], h1[:, 0]  # the right column: x1 = 4; the left: x1 = -4
    assert (blue[:, 2] > blue[:, 0]).all() and (orange[:, 0] > orange[:, 2]).all()
    assert (h1 == h1[:1]).all()          # h1 does not depend on x2
    # The top row is x2 = 4, where h2 = f(-4) is low.
    assert (h2[0, :, 0] > h2[0, :, 2]).all() and (h2[-1, :, 2] > h2[-1, :, 0]).all()
    # The middle line of h1 is x1 = 0: the vertical through the square's centre.
    image = maps["h1"].find(f"{SVG}image")
    centre = float(image.get("x")) + float(image.get("width")) / 2
    xs = [float(v) for v in re.findall(r"[ML] (\S+) ", maps["h1"].find(f"{SVG}path").get("d"))]
    assert xs and all(x == pytest.approx(centre, abs=0.1) for x in xs)


def test_maps_mark_the_points():
    points = [(1.0, 2.0, "#2b6cb0", True), (-1.0, 0.0, "#dd6b20", False)]
    maps = maps_of(matnn.Network.from_sizes([2, 2, 1], seed=0), points=points)
    for g in maps.values():
        assert len(list(g.iter(f"{SVG}circle"))) == 2


def test_maps_need_two_inputs():
    with pytest.raises(ValueError, match="2 inputs, got 3"):
        neuron_maps(matnn.Network.from_sizes([3, 2, 1], seed=0), (0, 1), (0, 1))
