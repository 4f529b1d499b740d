"""The lesson page and the model page: self-contained, well-formed, right numbers.

The numbers are checked against the lesson's printed values or against a
computation made here by another route (the scalar shim trained one run at a
time, numpy's own mean), never against the page's code.
"""

import contextlib
import io
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import matnn
from matnn import data, scalar
from matnn.lesson import (DERIVATION_URL, LESSON_URL, SNAPSHOT_EPOCHS, lesson_page,
                          model_page)
from matnn.svg import fmt

RUNS = 12
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def page():
    return lesson_page(runs=RUNS)


def parse(html):
    assert html.startswith("<!DOCTYPE html>\n")
    return ET.fromstring(html.split("\n", 1)[1])


def plain_text(root):
    return " ".join(" ".join(root.itertext()).split())


def test_page_is_well_formed_and_self_contained(page):
    root = parse(page)
    tags = {el.tag.split("}")[-1] for el in root.iter()}
    assert not tags & {"script", "link", "iframe", "object", "embed", "img"}
    links = []
    for el in root.iter():
        for name, value in el.attrib.items():
            if el.tag == "a" and name == "href":
                links.append(value)
            # Otherwise only inline data may name a resource.
            elif name in ("src", "href") or name.endswith("}href"):
                assert value.startswith("data:image/png;base64,")
    # The reader's links: the lesson, and the derivation (twice).
    assert links == [LESSON_URL, DERIVATION_URL, DERIVATION_URL]
    assert LESSON_URL == "https://victorzhou.com/blog/intro-to-neural-networks/"
    outside = re.findall(r"https?://[^\s\"<]+", page)
    assert set(outside) == {LESSON_URL, "http://www.w3.org/2000/svg"}
    assert "@import" not in page and "url(" not in page


def test_the_derivation_link_can_point_elsewhere():
    root = parse(lesson_page(runs=1, derivation_url="derivation.html"))
    assert [a.get("href") for a in root.iter("a")][1:] == ["derivation.html"] * 2


@pytest.mark.parametrize("url, error", [(None, TypeError), ("", ValueError)])
def test_a_bad_derivation_link_is_refused(url, error):
    with pytest.raises(error, match="derivation_url"):
        lesson_page(runs=1, derivation_url=url)


def test_six_sections(page):
    headings = [h.text for h in parse(page).iter("h2")]
    assert headings == ["1. The worked example", "2. The same example in matrix form",
                        "3. Training", "4. Watching it learn", "5. The trained network",
                        "6. Many seeds"]


def test_worked_example_shows_the_lessons_numbers(page):
    text = plain_text(parse(page))
    # The lesson: h1 = 0.0474, o1 = 0.524, dL/dw1 = 0.0214 (rounding as it goes).
    assert "h1 = f(w1 x1 + w2 x2 + b1) = f(-3) = 0.0474" in text
    assert "o1 = f(w5 h1 + w6 h2 + b3) = f(0.0949) = 0.524" in text
    assert "= 0.0214 as the lesson rounds it" in text
    assert "h1 = 0.0474" in text and "o1 = 0.524" in text  # on the diagram too


def scalar_run(seed):
    np.random.seed(seed)
    net = scalar.OurNeuralNetwork()
    with contextlib.redirect_stdout(io.StringIO()):
        log = net.train(data.X, data.y)
    return net, log


def test_trained_network_answers_as_the_scalar_shim(page):
    net, log = scalar_run(0)
    text = plain_text(parse(page))
    emily, frank = net.feedforward(data.EMILY), net.feedforward(data.FRANK)
    assert f"Emily (128 lb, 63 in): {emily:.3g}, so F" in text
    assert f"Frank (155 lb, 68 in): {frank:.3g}, so M" in text
    assert f"The loss falls from {log[0][1]:.3g}" in text


def test_decision_boundary_is_in_pounds_and_inches(page):
    svgs = list(parse(page).iter(f"{SVG}svg"))
    chart = next(s for s in svgs if s.get("aria-label") == "What the trained network decides")
    labels = [t.text for t in chart.iter(f"{SVG}text")]
    assert "weight (lb)" in labels and "height (in)" in labels
    assert {"Alice", "Bob", "Charlie", "Diana"} <= set(labels)
    assert any(t.startswith("Emily?") for t in labels)
    # Ticks in the lesson's units, not the shifted ones.
    assert {"120", "140", "160"} <= set(labels) and "60" in labels


def test_many_seeds_success_and_the_two_peaks(page):
    text = plain_text(parse(page))
    # Every start classifies Emily and Frank correctly with the lesson's settings.
    assert f"{RUNS} of {RUNS} runs" in text
    # The peaks' explanation, checked run by run with the scalar shim.
    split, same = [], []
    for seed in range(RUNS):
        net, _ = scalar_run(seed)
        loss = net.loss(data.X, data.y)
        (split if net.w5 * net.w6 < 0 else same).append(loss)
    assert max(split) < min(same)
    assert f"{fmt(np.median(split))} for the {len(split)} runs" in text
    assert f"{fmt(np.median(same))} for the {len(same)} runs" in text


def test_model_page_two_inputs_classifier():
    net = matnn.Network.from_sizes([2, 3, 1], seed=1)
    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    y = np.array([1.0, 0.0, 1.0])
    root = parse(model_page(net, X, y, source="toy.csv"))
    text = plain_text(root)
    mse = np.mean((y - net.predict(X)[:, 0]) ** 2)
    assert f"Loss on the data (net.loss): {mse:.6g}" in text
    assert "the line is the decision boundary" in text
    assert root.find(f".//{SVG}path[@stroke='#1a202c']") is not None


def test_model_page_one_input_draws_the_curve():
    net = matnn.Network.from_sizes([1, 4, 1], "tanh", seed=0)
    x = np.linspace(-1, 1, 7)
    text = plain_text(parse(model_page(net, x[:, None], x ** 2)))
    assert "The fitted curve" in text and "the data" in text


def test_model_page_three_inputs_says_what_it_leaves_out():
    net = matnn.Network.from_sizes([3, 2, 2], seed=0)
    root = parse(model_page(net, np.ones((4, 3)), np.zeros((4, 2))))
    assert "Not drawn: this network has 3 inputs and 2 outputs" in plain_text(root)
    assert not neuron_maps(root)


def neuron_maps(root):
    """The data-neuron names of every map, in page order."""
    return [g.get("data-neuron") for g in root.iter(f"{SVG}g") if g.get("data-neuron")]


def test_model_page_maps_every_neuron_by_its_matrix_name():
    net = matnn.Network.from_sizes([2, 3, 1], seed=1)
    X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]])
    root = parse(model_page(net, X, np.array([1.0, 0.0, 1.0])))
    assert neuron_maps(root) == ["A1[:, 0]", "A1[:, 1]", "A1[:, 2]", "A2[:, 0]"]


def test_model_page_of_the_lessons_network_uses_the_lessons_names():
    net = matnn.Network.from_sizes([2, 2, 1], seed=1)
    root = parse(model_page(net, data.X, data.y))
    assert neuron_maps(root) == ["h1", "h2", "o1"]


def test_model_page_two_inputs_two_outputs_gets_its_maps():
    net = matnn.Network.from_sizes([2, 2, 2], seed=0)
    root = parse(model_page(net, np.ones((4, 2)), np.zeros((4, 2))))
    assert neuron_maps(root) == ["A1[:, 0]", "A1[:, 1]", "A2[:, 0]", "A2[:, 1]"]
    assert "Not drawn" not in plain_text(root)


def test_model_page_rejects_mismatched_data():
    net = matnn.Network.from_sizes([2, 2, 1], seed=0)
    with pytest.raises(ValueError, match="X"):
        model_page(net, np.ones((4, 3)), np.zeros(4))


def test_model_page_draws_data_near_the_float64_limit_without_a_nan():
    net = matnn.Network.from_sizes([2, 3, 1], seed=1)
    # A tenth of the range more beyond 1.79e308 would be inf.
    X = np.array([[1.79e308, -1e307], [1e308, 1e307], [0.0, 0.0]])
    page = model_page(net, X, np.array([1.0, 0.0, 1.0]))
    assert not re.search(r"\b(nan|inf)\b", page, re.IGNORECASE)
    assert neuron_maps(parse(page)) == ["A1[:, 0]", "A1[:, 1]", "A1[:, 2]", "A2[:, 0]"]


@pytest.mark.parametrize("sizes, activation, X, message", [
    ([2, 3, 1], "sigmoid", [[1e308, -1e308], [-1e308, 1e308]],
     r"X's column 0 spans from -1e\+308 to 1e\+308, wider than float64"),
    ([1, 3, 1], ["relu", "identity"], [[1e300], [-1e300]],
     r"outputs or its loss on X overflow .* largest magnitude is 1e\+300"),
    ([3, 3, 1], ["relu", "identity"], [[1e300, 0, 0], [-1e300, 0, 0]],
     r"outputs or its loss on X overflow"),
])
def test_model_page_refuses_data_that_would_draw_nan(sizes, activation, X, message):
    net = matnn.Network.from_sizes(sizes, activation, seed=0)
    with pytest.raises(ValueError, match=message):
        model_page(net, X, [1.0, 0.0])


def test_lesson_page_checks_runs():
    with pytest.raises(ValueError, match="runs"):
        lesson_page(runs=0)


# -- the worked example in matrix form ------------------------------------------

def matrices(root):
    """{name: [[(value, symbol), ...], ...]} of every matrix of the matrix-form section."""
    found = {}
    for box in root.iter("span"):
        if box.get("class") != "mx":
            continue
        name = box.find("code").text
        rows = [[(float(td[0].text), td[1].text) for td in tr] for tr in box.find("table")]
        found.setdefault(name, rows)
    return found


def alice_by_hand():
    """The worked example with every weight 1, computed here step by step."""
    def f(z):
        return 1 / (1 + np.exp(-z))

    x1, x2, y = -2.0, -1.0, 1.0
    h = f(x1 + x2)
    o = f(2 * h)
    delta2 = -2 * (y - o) * o * (1 - o)
    delta1 = delta2 * h * (1 - h)          # w5 = w6 = 1
    return h, o, delta2, delta1, [[delta1 * x1, delta1 * x2], [delta1 * x1, delta1 * x2]]


def test_matrix_form_shows_each_step_with_the_lessons_names(page):
    found = matrices(parse(page))
    h, o, delta2, delta1, dW1 = alice_by_hand()
    expected = {
        "X": [[(-2, "x1"), (-1, "x2")]],
        "W1": [[(1, "w1"), (1, "w2")], [(1, "w3"), (1, "w4")]],
        "b1": [[(0, "b1"), (0, "b2")]],
        "Z1": [[(-3, "sum_h1"), (-3, "sum_h2")]],
        "A1": [[(h, "h1"), (h, "h2")]],
        "W2": [[(1, "w5"), (1, "w6")]],
        "b2": [[(0, "b3")]],
        "A2": [[(o, "o1")]],
        "delta2": [[(delta2, "\u2202L/\u2202sum_o1")]],
        "delta1": [[(delta1, "\u2202L/\u2202sum_h1"), (delta1, "\u2202L/\u2202sum_h2")]],
        "dW1": [[(dW1[0][0], "\u2202L/\u2202w1"), (dW1[0][1], "\u2202L/\u2202w2")],
                [(dW1[1][0], "\u2202L/\u2202w3"), (dW1[1][1], "\u2202L/\u2202w4")]],
    }
    for name, rows in expected.items():
        assert [[s for _, s in row] for row in found[name]] == [[s for _, s in row] for row in rows]
        shown = np.array([[v for v, _ in row] for row in found[name]])
        np.testing.assert_allclose(shown, [[v for v, _ in row] for row in rows], rtol=5e-3)


def test_matrix_form_has_the_lessons_numbers(page):
    found = matrices(parse(page))
    # The lesson: h1 = 0.0474, o1 = 0.524, and dL/dw1 = 0.0214 as it rounds by hand.
    assert found["A1"][0][0] == (0.0474, "h1") and found["A2"][0][0] == (0.524, "o1")
    assert found["dW1"][0][0] == (0.0215, "\u2202L/\u2202w1")
    text = plain_text(parse(page))
    assert "-0.952 \u00d7 0.249 \u00d7 -0.0904 = 0.0214, as the lesson rounds it" in text
    assert "dW1[0, 0] is \u2202L/\u2202w1: 0.02147, the lesson's 0.0214 before its rounding" in text


def test_matrix_form_names_the_formulas(page):
    codes = [c.text for c in parse(page).iter("code")]
    for formula in ("Z1 = X @ W1.T + b1", "delta1 = (delta2 @ W2) * A1*(1-A1)",
                    "dW1 = delta1.T @ X: the four hidden weights at once"):
        assert formula in codes
    cells = {td.get("title") for td in parse(page).iter("td") if td.get("title")}
    assert {"W1[0, 0] is w1", "W1[1, 0] is w3", "b2[0] is b3", "dW1[0, 0] is \u2202L/\u2202w1"} <= cells


# -- training over time -----------------------------------------------------------

def snapshots(root):
    return {int(div.get("data-epoch")): div for div in root.iter("div") if div.get("data-epoch")}


def test_at_least_twenty_snapshots_each_with_its_button(page):
    root = parse(page)
    shots = snapshots(root)
    assert len(shots) >= 20 and sorted(shots) == list(SNAPSHOT_EPOCHS)
    assert SNAPSHOT_EPOCHS[0] == 0 and SNAPSHOT_EPOCHS[-1] == 1000
    radios = [i for i in root.iter("input") if i.get("name") == "epoch"]
    assert [r.get("id") for r in radios] == [f"epoch-{e}" for e in SNAPSHOT_EPOCHS]
    assert [r.get("checked") for r in radios] == ["checked"] + [None] * (len(radios) - 1)
    # The stylesheet shows the checked one, and only that one.
    style = root.find("head/style").text
    for epoch in SNAPSHOT_EPOCHS:
        assert f'#epoch-{epoch}:checked ~ .snapshots > [data-epoch="{epoch}"]' in style
    assert ".snapshot { display: none;" in style


def test_each_snapshot_has_its_maps_weights_decision_and_loss(page):
    for epoch, div in snapshots(parse(page)).items():
        names = [g.get("data-neuron") for g in div.iter(f"{SVG}g") if g.get("data-neuron")]
        assert names == ["h1", "h2", "o1"], epoch
        labels = {s.get("aria-label") for s in div.iter(f"{SVG}svg")}
        assert {"What it decides", "The loss at every snapshot"} <= labels
        assert {"W1", "b1", "W2", "b2"} == set(matrices(div))


def scalar_losses_at(epochs, seed=0):
    """The loss of the lesson's scalar code after each of ``epochs``, one epoch at a time."""
    np.random.seed(seed)
    net = scalar.OurNeuralNetwork()
    losses, done = {}, 0
    for epoch in epochs:
        with contextlib.redirect_stdout(io.StringIO()):
            net.train(data.X, data.y, epochs=epoch - done)
        done = epoch
        losses[epoch] = net.loss(data.X, data.y)
    return net, losses


def test_snapshots_are_the_lessons_run(page):
    _, losses = scalar_losses_at(SNAPSHOT_EPOCHS)
    for epoch, div in snapshots(parse(page)).items():
        text = plain_text(div)
        when = "The start" if epoch == 0 else f"After {epoch} epoch"
        assert text.startswith(f"{when}"), text[:40]
        assert f": loss L = {fmt(losses[epoch])} ;" in text, epoch


def test_snapshots_step_to_their_neighbours(page):
    shots = snapshots(parse(page))
    epochs = list(SNAPSHOT_EPOCHS)
    for k, epoch in enumerate(epochs):
        steps = [label.get("for") for label in shots[epoch].iter("label")]
        expected = ([f"epoch-{epochs[k - 1]}"] if k else []) + (
            [f"epoch-{epochs[k + 1]}"] if k + 1 < len(epochs) else [])
        assert steps == expected


def test_the_trained_network_maps_every_neuron(page):
    root = parse(page)
    figures = [f for f in root.iter("figure")
               if any(s.get("aria-label", "").startswith("What each neuron computes")
                      for s in f.iter(f"{SVG}svg"))]
    assert len(figures) == 1
    assert neuron_maps(figures[0]) == ["h1", "h2", "o1"]
