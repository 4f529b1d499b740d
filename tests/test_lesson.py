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
from matnn.lesson import lesson_page, model_page
from matnn.svg import fmt

RUNS = 12


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
    for el in root.iter():
        for name, value in el.attrib.items():
            # Only the SVG namespace and inline data may name a resource.
            if name in ("src", "href") or name.endswith("}href"):
                assert value.startswith("data:image/png;base64,")
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page)
    assert "@import" not in page and "url(" not in page


def test_four_sections(page):
    headings = [h.text for h in parse(page).iter("h2")]
    assert headings == ["1. The worked example", "2. Training", "3. The trained network",
                        "4. Many seeds"]


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
    svgs = list(parse(page).iter("{http://www.w3.org/2000/svg}svg"))
    chart = next(s for s in svgs if s.get("aria-label") == "What the trained network decides")
    labels = [t.text for t in chart.iter("{http://www.w3.org/2000/svg}text")]
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
    assert root.find(".//{http://www.w3.org/2000/svg}path[@stroke='#1a202c']") is not None


def test_model_page_one_input_draws_the_curve():
    net = matnn.Network.from_sizes([1, 4, 1], "tanh", seed=0)
    x = np.linspace(-1, 1, 7)
    text = plain_text(parse(model_page(net, x[:, None], x ** 2)))
    assert "The fitted curve" in text and "the data" in text


def test_model_page_three_inputs_says_what_it_leaves_out():
    net = matnn.Network.from_sizes([3, 2, 2], seed=0)
    text = plain_text(parse(model_page(net, np.ones((4, 3)), np.zeros((4, 2)))))
    assert "Not drawn: this network has 3 inputs and 2 outputs" in text


def test_model_page_rejects_mismatched_data():
    net = matnn.Network.from_sizes([2, 2, 1], seed=0)
    with pytest.raises(ValueError, match="X"):
        model_page(net, np.ones((4, 3)), np.zeros(4))


def test_lesson_page_checks_runs():
    with pytest.raises(ValueError, match="runs"):
        lesson_page(runs=0)
