"""The lesson as one self-contained HTML page, and a page for any model.

:func:`lesson_page` computes everything it shows with the project's own
code: the worked example with :func:`matnn.explain.explain` (the scalar
shim, and ``Network.forward`` and ``Network.backward`` for its matrix
form) and :func:`matnn.draw.draw`, the training run with the scalar shim
and ``Network.fit`` from the same start, snapshots of that run with
:func:`matnn.draw.neuron_maps`, and the many-seeds study with
:func:`matnn.seeds.train_seeds`. :func:`model_page` draws a user's network
and what it computes. The pages hold inline SVG and CSS only: no script,
and no stylesheet, font or image from elsewhere, so they open offline in
any browser; their only references outside the page are links for the
reader to follow. The snapshots are stepped through with radio buttons and
CSS alone. The pages are also well-formed XML.
"""

from __future__ import annotations

import contextlib
import io
from typing import TYPE_CHECKING, Any, Callable, Iterable, TypeVar

import numpy as np

from . import data, scalar
from ._typing import ArrayLike, FloatArray, NDArray
from .charts import PALETTE, decision_map, histogram, line_chart
from .draw import draw, neuron_maps
from .explain import explain
from .network import Network
from .seeds import document_networks, train_seeds
from .svg import esc, fmt
from .validation import check_batch, check_int

if TYPE_CHECKING:
    from .draw import Drawing
    from .explain import Explanation
    from .training import EpochRecord

T = TypeVar("T")

__all__ = ["lesson_page", "model_page", "WEIGHT_RANGE", "HEIGHT_RANGE", "SNAPSHOT_EPOCHS",
           "LESSON_URL", "DERIVATION_URL"]

#: The decision boundary's axes, in the lesson's units (lb and in).
WEIGHT_RANGE = (100.0, 180.0)
HEIGHT_RANGE = (56.0, 76.0)

#: The epochs after which the lesson page shows the training run; 0 is the start.
SNAPSHOT_EPOCHS = (0, 1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 50, 70, 100, 150, 200, 250, 300,
                   400, 500, 600, 700, 800, 900, 1000)

#: The lesson this project re-expresses in matrix form.
LESSON_URL = "https://victorzhou.com/blog/intro-to-neural-networks/"

#: The derivation of the matrix formulas, relative to the repository's root
#: (where ``matnn report`` writes the page unless told otherwise).
DERIVATION_URL = "docs/derivation.md"

_FEMALE, _MALE = PALETTE[0], PALETTE[1]

_STYLE = """
body { font-family: sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em;
       color: #1a202c; line-height: 1.45; }
h1 { font-size: 1.7em; } h2 { margin-top: 2em; border-bottom: 1px solid #cbd5e0; }
figure { margin: 1em 0; } figcaption { color: #4a5568; font-size: 0.92em; }
table { border-collapse: collapse; } td, th { padding: 0.2em 0.8em; text-align: left; }
.number { font-weight: bold; }
svg { max-width: 100%; height: auto; }
table.steps > tbody > tr > * { border-bottom: 1px solid #e2e8f0; vertical-align: middle;
                               padding: 0.5em; }
table.steps > tbody > tr > td:nth-child(2) { width: 40%; }
.steps code { display: block; margin-bottom: 0.3em; }
.mx { display: inline-flex; align-items: center; gap: 0.4em; margin: 0.1em 0.6em 0.1em 0; }
table.matrix { border-left: 2px solid #2d3748; border-right: 2px solid #2d3748;
               border-radius: 5px; }
table.matrix td { text-align: center; padding: 0.1em 0.55em; }
.matrix .v { display: block; font-weight: bold; font-family: monospace; }
.matrix .s { display: block; font-size: 0.78em; color: #2b6cb0; }
.run > input { position: absolute; opacity: 0; width: 1px; height: 1px; }
.run > label { display: inline-block; min-width: 1.9em; text-align: center; cursor: pointer;
               border: 1px solid #cbd5e0; border-radius: 4px; margin: 0 1px 4px 0;
               font-size: 0.8em; padding: 0.1em 0.15em; }
.run > input:checked + label { background: #2b6cb0; color: #ffffff; border-color: #2b6cb0; }
.run > input:focus-visible + label { outline: 2px solid #dd6b20; }
.snapshot { display: none; border: 1px solid #e2e8f0; border-radius: 6px; padding: 0.5em 1em; }
.snapshot .step { cursor: pointer; color: #2b6cb0; text-decoration: underline; margin-right: 1em; }
.row { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.row > * { flex: 1 1 420px; }
"""


def _page(title: str, body: str, style: str = "") -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8"/>\n'
            f'<title>{esc(title)}</title>\n<style>{_STYLE}{style}</style>\n</head>\n<body>\n'
            f'<h1>{esc(title)}</h1>\n{body}</body>\n</html>\n')


def _figure(svg: object, caption: str) -> str:
    return f"<figure>\n{svg}<figcaption>{esc(caption)}</figcaption>\n</figure>\n"


def _p(content: str) -> str:
    return f"<p>{esc(content)}</p>\n"


def _quiet(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``function`` with its printing (the scalar shim's loss log) swallowed."""
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args, **kwargs)


def lesson_page(*, runs: int = 200, seed: int = 0, derivation_url: str = DERIVATION_URL) -> str:
    """The lesson page: worked example in both forms, training, the trained network, many seeds.

    Parameters
    ----------
    runs : int >= 1
        Seeds 0..runs-1 for the many-seeds section (1000 epochs each, one
        ensemble; 200 runs take about a quarter of a second).
    seed : int >= 0
        The training run starts as the lesson's code does after
        ``np.random.seed(seed)``.
    derivation_url : str
        Where the page links to the derivation of the matrix formulas
        (``docs/derivation.md`` of the source, by default relative to the
        repository's root).

    Returns
    -------
    str
        The HTML page.
    """
    runs = check_int(runs, "runs", 1)
    seed = check_int(seed, "seed", 0)
    if not isinstance(derivation_url, str):
        raise TypeError(f"derivation_url must be a str, got {derivation_url!r}")
    if not derivation_url:
        raise ValueError("derivation_url is empty; give the derivation's address")
    body = [f'<p>The network from the lesson <a href="{esc(LESSON_URL)}">Machine Learning for '
            "Beginners: An Introduction to Neural Networks</a> (Victor Zhou): two inputs "
            "(weight and height, shifted by 135 lb and 66 in), two hidden sigmoid neurons h1 "
            "and h2, and one output o1 that should be 1 for a woman (F) and 0 for a man (M). "
            "matnn writes it with matrices, W1, b1, W2 and b2, so that the same few lines "
            "compute any number of samples and any width and depth; "
            f'<a href="{esc(derivation_url)}">the derivation</a> (docs/derivation.md in '
            "matnn's source) shows that the matrix formulas are the lesson's chain rule. "
            "Every number on this page was computed by matnn when the page was made.</p>\n"]
    example = explain("w1", "Alice")
    body.append(_worked_example(example))
    body.append(_matrix_form(example, derivation_url))
    section, net, snapshots = _training(seed)
    body.append(section)
    run, style = _snapshots(snapshots, seed)
    body.append(run)
    body.append(_trained_network(net, seed))
    body.append(_many_seeds(runs))
    return _page("The lesson's network, drawn", "".join(body), style)


def _worked_example(e: Explanation) -> str:
    bp = e.backprop
    x, y_true = data.sample("Alice")
    product = " \u00d7 ".join(fmt(v) for v in e.rounded_factors)
    return "".join([
        '<h2 id="worked-example">1. The worked example</h2>\n',
        _p(f"The lesson's starting point: every weight is 1 and every bias 0. Alice "
           f"({data.PEOPLE[0][1]} lb, {data.PEOPLE[0][2]} in) is the input x = "
           f"({fmt(x[0])}, {fmt(x[1])}), and her target is {fmt(y_true)} (F)."),
        f"<ul>\n<li>h1 = f(w1 x1 + w2 x2 + b1) = f({fmt(bp.sum_h1)}) = "
        f'<span class="number">{esc(fmt(bp.h1))}</span></li>\n'
        f"<li>o1 = f(w5 h1 + w6 h2 + b3) = f({fmt(bp.sum_o1)}) = "
        f'<span class="number">{esc(fmt(bp.o1))}</span></li>\n'
        f"<li>\u2202L/\u2202w1 = {esc(product)} = "
        f'<span class="number">{esc(fmt(e.rounded_chain))}</span> as the lesson rounds it '
        f"(it rounds each factor to 3 figures as it goes; unrounded it is "
        f"{esc(fmt(e.chain, 4))})</li>\n</ul>\n",
        _figure(draw(e.network, x, y_true),
                "The starting network with Alice's numbers: each neuron's value, and each "
                "weight's and bias's gradient dL/dw for Alice (from Network.forward and "
                "Network.gradients). The loss L is Alice's squared error."),
    ])


def _matrix(name: str, values: ArrayLike, symbols: ArrayLike) -> str:
    """A matrix (or a vector, as one row) with each entry's value and the lesson's symbol."""
    values = np.asarray(values, dtype=np.float64)
    vector = values.ndim == 1
    rows = np.atleast_2d(values)
    symbols = np.array(symbols).reshape(rows.shape)
    cells = []
    for i, row in enumerate(rows):
        tds = []
        for j, value in enumerate(row):
            entry = f"{name}[{j}]" if vector else f"{name}[{i}, {j}]"
            tds.append(f'<td title="{esc(entry)} is {esc(symbols[i, j])}">'
                       f'<span class="v">{esc(fmt(value))}</span>'
                       f'<span class="s">{esc(symbols[i, j])}</span></td>')
        cells.append(f"<tr>{''.join(tds)}</tr>")
    return (f'<span class="mx"><code>{esc(name)}</code> ='
            f'<table class="matrix">{"".join(cells)}</table></span>')


def _matrix_form(e: Explanation, derivation_url: str) -> str:
    """The worked example as matrices, beside the lesson's scalars, step by step."""
    bp = e.backprop
    net = e.network
    X, A1, A2 = e.activations
    delta1, delta2 = e.deltas
    (dW1, db1), (dW2, db2) = e.gradients
    W1, b1 = net.layers[0].W, net.layers[0].b
    W2, b2 = net.layers[1].W, net.layers[1].b
    Z1 = X @ W1.T + b1
    Z2 = A1 @ W2.T + b2
    Y = np.array([[bp.y_true]])
    loss = net.loss(X, Y)
    d = "\u2202"
    chain = " \u00d7 ".join(fmt(v) for v in e.rounded_factors)
    f1, fo = bp.d_h1_d_b1, bp.d_ypred_d_b3
    steps = [
        ("the input", f"x1 = {fmt(bp.x1)}, x2 = {fmt(bp.x2)}: Alice, shifted",
         "X: one row per sample, shape (1, 2)", _matrix("X", X, [["x1", "x2"]])),
        ("hidden weights", "w1 = w2 = w3 = w4 = 1; b1 = b2 = 0",
         "row i of W1: the weights of hidden neuron i + 1",
         _matrix("W1", W1, [["w1", "w2"], ["w3", "w4"]]) + _matrix("b1", b1, ["b1", "b2"])),
        ("hidden sums", f"sum_h1 = w1 x1 + w2 x2 + b1 = {fmt(bp.sum_h1)}; and sum_h2 = "
                        f"w3 x1 + w4 x2 + b2 = {fmt(bp.sum_h2)}",
         "Z1 = X @ W1.T + b1", _matrix("Z1", Z1, [["sum_h1", "sum_h2"]])),
        ("hidden outputs", f"h1 = f(sum_h1) = {fmt(bp.h1)}; h2 = f(sum_h2) = {fmt(bp.h2)}",
         "A1 = f(Z1), the sigmoid of every entry", _matrix("A1", A1, [["h1", "h2"]])),
        ("output weights", "w5 = w6 = 1; b3 = 0", "W2: the weights of o1",
         _matrix("W2", W2, [["w5", "w6"]]) + _matrix("b2", b2, ["b3"])),
        ("the output", f"o1 = f(w5 h1 + w6 h2 + b3) = f({fmt(bp.sum_o1)}) = {fmt(bp.o1)}",
         "Z2 = A1 @ W2.T + b2; A2 = f(Z2)",
         _matrix("Z2", Z2, [["sum_o1"]]) + _matrix("A2", A2, [["o1"]])),
        ("the loss", f"L = (y_true - y_pred)\u00b2 = ({fmt(bp.y_true)} - {fmt(bp.o1)})\u00b2 "
                     f"= {fmt(bp.loss)}",
         "L = mean((Y - A2)**2), over every entry (one here)",
         f'L = <span class="number">{esc(fmt(loss))}</span>'),
        ("output delta", f"{d}L/{d}sum_o1 = {d}L/{d}y_pred \u00d7 f'(sum_o1) = "
                         f"{fmt(bp.d_L_d_ypred)} \u00d7 {fmt(fo)} = "
                         f"{fmt(bp.d_L_d_ypred * fo)}",
         "delta2 = dL/dA2 * A2*(1-A2), where dL/dA2 = 2 (A2 - Y) / n",
         _matrix("delta2", delta2, [[f"{d}L/{d}sum_o1"]])),
        ("hidden delta", f"{d}L/{d}sum_h1 = {d}L/{d}y_pred \u00d7 {d}y_pred/{d}h1 \u00d7 "
                         f"f'(sum_h1) = {fmt(bp.d_L_d_ypred)} \u00d7 {fmt(bp.d_ypred_d_h1)} "
                         f"\u00d7 {fmt(f1)} = {fmt(bp.d_L_d_ypred * bp.d_ypred_d_h1 * f1)}; "
                         "the same for h2",
         "delta1 = (delta2 @ W2) * A1*(1-A1)",
         _matrix("delta1", delta1, [[f"{d}L/{d}sum_h1", f"{d}L/{d}sum_h2"]])),
        ("the gradient", f"{d}L/{d}w1 = {d}L/{d}y_pred \u00d7 {d}y_pred/{d}h1 \u00d7 "
                         f"{d}h1/{d}w1 = {chain} = {fmt(e.rounded_chain)}, as the lesson "
                         f"rounds it ({fmt(e.chain, 4)} unrounded)",
         "dW1 = delta1.T @ X: the four hidden weights at once",
         _matrix("dW1", dW1, [[f"{d}L/{d}w1", f"{d}L/{d}w2"], [f"{d}L/{d}w3", f"{d}L/{d}w4"]])),
        ("the other gradients", "the lesson's other chains, one product each",
         "db1 = delta1 summed over the rows; dW2 = delta2.T @ A1; db2 = delta2 summed",
         _matrix("db1", db1, [f"{d}L/{d}b1", f"{d}L/{d}b2"])
         + _matrix("dW2", dW2, [[f"{d}L/{d}w5", f"{d}L/{d}w6"]])
         + _matrix("db2", db2, [f"{d}L/{d}b3"])),
    ]
    rows = "".join(f"<tr><th>{esc(step)}</th><td>{esc(scalars)}</td>"
                   f"<td><code>{esc(how)}</code>{matrices}</td></tr>\n"
                   for step, scalars, how, matrices in steps)
    return "".join([
        '<h2 id="matrix-form">2. The same example in matrix form</h2>\n',
        _p("The lesson works with one number at a time. matnn keeps the same numbers in "
           "matrices: samples are rows, and row i of a weight matrix W holds the weights of "
           "neuron i, so W1[0, 0] is the lesson's w1 and W1[1, 0] is w3. Below, each step of "
           "the worked example as the lesson writes it, then as matnn computes it "
           "(Network.forward and Network.backward on Alice's row); under every entry is its "
           "name in the lesson."),
        '<table class="steps">\n<tr><th>step</th><th>the lesson (scalars)</th>'
        "<th>matnn (matrices)</th></tr>\n",
        rows, "</table>\n",
        f'<p>dW1[0, 0] is \u2202L/\u2202w1: {esc(fmt(dW1[0, 0], 4))}, the lesson\'s '
        f"{esc(fmt(e.rounded_chain))} before its rounding. With n samples in X, the same "
        "lines compute every sample's numbers at once, and the gradients become the mean "
        f'over the samples; <a href="{esc(derivation_url)}">the derivation</a> shows why '
        "each formula holds.</p>\n",
    ])


def _training(seed: int) -> tuple[str, Network, dict[int, tuple[Network, float]]]:
    """The lesson's run, both ways; returns its section, the trained network and snapshots."""
    (net,) = document_networks([seed])
    doc_net = scalar.from_network(net)
    scalar_log = _quiet(doc_net.train, data.X, data.y)
    snapshots = {0: (net.copy(), float(net.loss(data.X, data.y)))}

    def record(epoch: EpochRecord) -> None:
        if epoch.epoch + 1 in SNAPSHOT_EPOCHS:
            snapshots[epoch.epoch + 1] = (epoch.model.copy(), float(epoch.loss))

    losses = net.fit(data.X, data.y, epochs=1000, learning_rate=0.1, batch_size=1,
                     shuffle=False, callback=record).loss
    difference = float(np.max(np.abs(scalar.to_network(doc_net).params - net.params)))
    epochs, scalar_losses = zip(*scalar_log)
    chart = line_chart(
        [("matrix form, Network.fit (every epoch)", np.arange(len(losses)), losses, "line"),
         ("scalar shim (every 10 epochs)", epochs, scalar_losses, "dots")],
        title=f"Training from np.random.seed({seed}), learning rate 0.1",
        x_label="epoch", y_label="MSE loss (log scale)", log_y=True)
    section = "".join([
        '<h2 id="training">3. Training</h2>\n',
        _p(f"The lesson trains for 1000 epochs, one person at a time, with learning rate "
           f"0.1. Here it starts where the lesson's code starts after np.random.seed({seed}), "
           f"once as the lesson's scalar code (matnn.scalar) and once in matrix form "
           f"(Network.fit with batch_size=1, shuffle=False). The two curves lie on top of "
           f"each other: after training, the largest difference between their parameters is "
           f"{fmt(difference)}."),
        _figure(chart, f"The loss falls from {fmt(losses[0])} to {fmt(losses[-1])}; the log "
                       "scale shows the slow final descent that a linear axis flattens."),
    ])
    return section, net, snapshots


def _people_points(predictions: Iterable[float]) -> list[tuple[float, float, str, str, bool]]:
    points: list[tuple[float, float, str, str, bool]] = [
        (w, h, name, _FEMALE if g == "F" else _MALE, True) for name, w, h, g in data.PEOPLE]
    for (name, x, expected), p in zip(data.QUERIES, predictions):
        w, h = x[0] - data.SHIFT[0], x[1] - data.SHIFT[1]
        points.append((w, h, f"{name}? {fmt(p)}", _FEMALE if expected == "F" else _MALE, False))
    return points


def _to_input(weight_height: NDArray[np.float64]) -> NDArray[np.float64]:
    """The network's input for points in pounds and inches."""
    return weight_height + np.array(data.SHIFT, dtype=np.float64)


def _lesson_maps(net: Network, tile: float = 100) -> Drawing:
    """:func:`neuron_maps` of a lesson network, in pounds and inches, with the six people."""
    points = [(w, h, colour, filled) for w, h, _, colour, filled in
              _people_points(net.predict(np.array([x for _, x, _ in data.QUERIES]))[:, 0])]
    return neuron_maps(net, WEIGHT_RANGE, HEIGHT_RANGE, to_input=_to_input, points=points,
                       x_label="weight (lb)", y_label="height (in)", tile=tile)


def _weights_table(net: Network) -> str:
    W1, b1 = net.layers[0].W, net.layers[0].b
    W2, b2 = net.layers[1].W, net.layers[1].b
    return ("<div>" + _matrix("W1", W1, [["w1", "w2"], ["w3", "w4"]])
            + _matrix("b1", b1, ["b1", "b2"]) + "<br/>" + _matrix("W2", W2, [["w5", "w6"]])
            + _matrix("b2", b2, ["b3"]) + "</div>")


def _snapshots(snapshots: dict[int, tuple[Network, float]], seed: int) -> tuple[str, str]:
    """The run at every epoch of :data:`SNAPSHOT_EPOCHS`, stepped with radio buttons.

    Returns the section and the CSS rules that show the checked snapshot.
    """
    epochs = sorted(snapshots)
    curve_x = np.array(epochs, dtype=np.float64)
    curve_y = np.array([snapshots[e][1] for e in epochs])
    buttons, panels, rules = [], [], []
    for k, epoch in enumerate(epochs):
        net, loss = snapshots[epoch]
        checked = ' checked="checked"' if k == 0 else ""
        buttons.append(f'<input type="radio" name="epoch" id="epoch-{epoch}"{checked}/>'
                       f'<label for="epoch-{epoch}">{epoch}</label>\n')
        rules.append(f'#epoch-{epoch}:checked ~ .snapshots > [data-epoch="{epoch}"]')
        steps = []
        if k > 0:
            steps.append(f'<label class="step" for="epoch-{epochs[k - 1]}">\u25c0 after '
                         f"{epochs[k - 1]}</label>")
        if k + 1 < len(epochs):
            steps.append(f'<label class="step" for="epoch-{epochs[k + 1]}">after '
                         f"{epochs[k + 1]} \u25b6</label>")
        queries = net.predict(np.array([x for _, x, _ in data.QUERIES]))[:, 0]
        boundary = decision_map(
            # mypy cannot infer a lambda with a default argument (here binding net).
            lambda grid, net=net: net.predict(_to_input(grid))[:, 0],  # type: ignore[misc]
            WEIGHT_RANGE,
            HEIGHT_RANGE, _people_points(queries), title="What it decides",
            x_label="weight (lb)", y_label="height (in)", resolution=60, width=460, height=320)
        chart = line_chart(
            [("the run", curve_x, curve_y, "line"),
             (f"after {epoch} epochs", [epoch], [loss], "marks")],
            title="The loss at every snapshot", x_label="epochs trained",
            y_label="MSE loss (log scale)", log_y=True, width=460, height=320)
        when = "The start" if epoch == 0 else f"After {epoch} epoch{'s' if epoch != 1 else ''}"
        panels.append(
            f'<div class="snapshot" data-epoch="{epoch}">\n'
            f'<p><b>{esc(when)}</b>: loss L = <span class="number">{esc(fmt(loss))}</span>; '
            f"Emily {esc(fmt(queries[0]))}, Frank {esc(fmt(queries[1]))}. {''.join(steps)}</p>\n"
            f'<div class="row">{_lesson_maps(net, tile=90)}{_weights_table(net)}</div>\n'
            f'<div class="row">{boundary}{chart}</div>\n</div>\n')
    style = "\n" + ",\n".join(rules) + " { display: block; }\n"
    section = "".join([
        '<h2 id="watching">4. Watching it learn</h2>\n',
        _p(f"The same run from np.random.seed({seed}), stopped at {len(epochs)} moments. "
           "Choose the number of epochs trained (or step with \u25c0 and \u25b6; once one "
           "is chosen, the arrow keys step too). Each snapshot shows what every neuron "
           "computes over weight and height (the network with its weights as edges), the "
           "weights themselves, what the network decides, and the loss."),
        '<div class="run">\n', *buttons, '<div class="snapshots">\n', *panels, "</div>\n</div>\n",
    ])
    return section, style


def _trained_network(net: Network, seed: int) -> str:
    queries = np.array([x for _, x, _ in data.QUERIES])
    predictions = net.predict(queries)[:, 0]

    def output(weight_height: NDArray[np.float64]) -> FloatArray:
        return net.predict(_to_input(weight_height))[:, 0]

    chart = decision_map(output, WEIGHT_RANGE, HEIGHT_RANGE, _people_points(predictions),
                         title="What the trained network decides", x_label="weight (lb)",
                         y_label="height (in)")
    said = "; ".join(f"{name} ({x[0] - data.SHIFT[0]} lb, {x[1] - data.SHIFT[1]} in): "
                     f"{fmt(p)}, so {'F' if p > 0.5 else 'M'} (the lesson expects {expected})"
                     for (name, x, expected), p in zip(data.QUERIES, predictions))
    emily = data.EMILY
    return "".join([
        '<h2 id="trained-network">5. The trained network</h2>\n',
        _figure(draw(net, emily),
                f"The network after training (seed {seed}), with Emily's numbers. The "
                "lesson's names: w1..w4 and b1, b2 feed the hidden neurons, w5, w6 and b3 "
                "the output."),
        _figure(_lesson_maps(net),
                "What each neuron computes, over weight and height: h1 and h2 each draw one "
                "line through the plane, and o1 combines them. Filled: the four people it "
                "learned from (blue F, orange M); hollow: Emily and Frank."),
        _figure(chart,
                "Its output over weight and height, in the lesson's units; the line is the "
                "decision boundary o1 = 0.5. Filled: the four people it learned from "
                "(blue F, orange M). Hollow: Emily and Frank, the two it is asked about, "
                "with its answer."),
        _p(said + "."),
    ])


def _many_seeds(runs: int) -> str:
    (r,) = train_seeds(range(runs))
    correct = int(r.correct.sum())
    split, same = r.split, ~r.split
    chart = histogram(
        [("w5, w6 of opposite signs: h1 and h2 split the work", r.final_loss[split]),
         ("w5, w6 of the same sign: h1 and h2 learned the same thing", r.final_loss[same])],
        title=f"Final loss of {runs} runs", x_label="final MSE loss (log scale)",
        bins=40, log_x=True)
    medians = [f"{fmt(np.median(r.final_loss[group]))} for the {int(group.sum())} runs "
               f"whose {what}" for group, what in
               ((split, "hidden neurons split the work (w5 and w6 of opposite signs: one "
                        "hidden neuron fires for the women, the other for the men)"),
                (same, "hidden neurons learned the same thing (w5 and w6 of one sign)"))
               if group.any()]
    peaks = (f"Two peaks: the median final loss is {' and '.join(medians)}. Splitting the "
             "work gives the output two signals to combine, so it gets closer to 0 and 1."
             if split.any() and same.any() else
             f"The median final loss is {medians[0]}.")
    return "".join([
        '<h2 id="many-seeds">6. Many seeds</h2>\n',
        _p(f"The lesson trains once, from one random start. Here the same training runs from "
           f"np.random.seed(s) for s = 0..{runs - 1}, all at once as one matnn.Ensemble "
           f"(matnn.seeds.train_seeds)."),
        f'<p>Training succeeds (Emily classified F and Frank M) in '
        f'<span class="number">{correct} of {runs}</span> runs '
        f'({esc(f"{correct / runs:.1%}")}); {int(r.failed.sum())} diverged.</p>\n',
        _figure(chart, peaks),
    ])


def model_page(net: Network, X: ArrayLike, y: ArrayLike, *, source: str = "the data") -> str:
    """A page for a user's model: its diagram, what it computes, its loss on the data.

    Parameters
    ----------
    net : Network
    X : array-like of shape (n_samples, n_in)
    y : array-like of shape (n_samples, n_out), or (n_samples,) if n_out == 1
    source : str
        Where the data came from, for the text (e.g. a file name).

    Returns
    -------
    str
        The HTML page. Networks with 2 inputs get a map of every hidden and
        output neuron's output over the data's range (:func:`matnn.draw.neuron_maps`),
        and with 1 output also that output with the data (and the decision
        boundary when every target is 0 or 1); 1 input and 1 output, the
        fitted curve; others the diagram and the loss only, and the page
        says so.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a matnn.Network, got {type(net).__name__}")
    X, Y = check_batch(X, y, net.n_in, net.n_out, net.dtype)
    _check_drawable(net, X, Y)
    loss = net.loss(X, Y)
    sizes = "-".join(map(str, net.sizes))
    body = [_p(f"A {sizes} network ({', '.join(net.activations)}) and {len(X)} rows of "
               f"{source}."),
            f'<p>Loss on the data (net.loss): <span class="number">{esc(fmt(loss, 6))}</span></p>\n',
            "<h2>The network</h2>\n",
            _figure(draw(net), "Blue edges are positive weights, red negative; thicker is "
                               "larger.")]
    body.append("<h2>What it computes</h2>\n")
    if net.n_in == 2:
        body.append(_model_neuron_maps(net, X, Y))
    if net.n_out == 1 and net.n_in == 2:
        body.append(_model_map(net, X, Y[:, 0]))
    elif net.n_out == 1 and net.n_in == 1:
        body.append(_model_curve(net, X[:, 0], Y[:, 0]))
    elif net.n_in != 2:
        body.append(_p(f"Not drawn: this network has {net.n_in} inputs and {net.n_out} "
                       "outputs, and its function is drawn only for 1 or 2 inputs. The "
                       "diagram and the loss are above."))
    return _page(f"A {sizes} network on {source}", "".join(body))


def _padded(values: FloatArray) -> tuple[float, float]:
    """The range of ``values`` and a tenth more each side, kept within float64."""
    low, high = float(values.min()), float(values.max())
    biggest = np.finfo(np.float64).max
    pad = (high - low) * 0.1 or max(abs(low) * 0.1, 1.0)
    # The padded span must stay finite too: a grid divides it into steps.
    pad = min(pad, (biggest - (high - low)) / 2)
    return max(low - pad, -biggest), min(high + pad, biggest)


def _check_drawable(net: Network, X: FloatArray, Y: FloatArray) -> None:
    """Refuse data that would draw NaN: too wide a range to grid, or outputs that overflow.

    The charts divide each input's padded range into a grid and run the
    network on it, so the range's span must be a float64 and the outputs
    (on the data, and at the corners of the drawn range) and the loss
    finite.
    """
    drawn = X.shape[1] <= 2
    with np.errstate(all="ignore"):
        if drawn:
            span = X.max(axis=0).astype(np.float64) - X.min(axis=0)
            wide = np.flatnonzero(~np.isfinite(span))
            if wide.size:
                j = int(wide[0])
                raise ValueError(
                    f"X's column {j} spans from {float(X[:, j].min()):g} to "
                    f"{float(X[:, j].max()):g}, wider than float64 can divide into a chart's "
                    "grid; scale the data"
                )
            ranges = [_padded(X[:, j]) for j in range(X.shape[1])]
            corners = np.array(np.meshgrid(*ranges)).reshape(X.shape[1], -1).T
            outputs = net.predict(np.vstack([X, corners.astype(net.dtype)]))
        else:
            outputs = net.predict(X)
        loss = net.loss(X, Y)
    if not (np.isfinite(outputs).all() and np.isfinite(loss)):
        raise ValueError(
            f"the network's outputs or its loss on X overflow to NaN or inf (X's largest "
            f"magnitude is {float(np.abs(X).max()):g}), so the page would show none; scale "
            "the data"
        )


#: At most this many data points are marked on a model page's chart.
MAX_POINTS = 500

#: At most this many data points are marked on each neuron's map.
MAX_MAP_POINTS = 100


def _model_neuron_maps(net: Network, X: FloatArray, Y: FloatArray) -> str:
    classifier = net.n_out == 1 and bool(np.isin(Y, (0, 1)).all())
    points = [(a, b, (_FEMALE if t == 1 else _MALE) if classifier else "#2d3748", True)
              for (a, b), t in zip(X[:MAX_MAP_POINTS], Y[:MAX_MAP_POINTS, 0])]
    maps = neuron_maps(net, _padded(X[:, 0]), _padded(X[:, 1]), points=points,
                       x_label="input 1", y_label="input 2")
    caption = ("Every hidden and output neuron's output over the data's range of the two "
               "inputs, shaded from orange (low) through white to blue (high), with the line "
               "where it crosses its middle value; the edges are the weights. Points are the "
               "data" + (", blue for target 1, orange for 0." if classifier else "."))
    if len(X) > MAX_MAP_POINTS:
        caption += f" The first {MAX_MAP_POINTS} of the {len(X)} rows are marked."
    return _figure(maps, caption)


def _model_map(net: Network, X: FloatArray, y: FloatArray) -> str:
    classifier = bool(np.isin(y, (0, 1)).all())
    points = [(a, b, "", _FEMALE if t == 1 else _MALE if classifier else "#2d3748", True)
              for (a, b), t in zip(X[:MAX_POINTS], y[:MAX_POINTS])]
    chart = decision_map(lambda grid: net.predict(grid)[:, 0], _padded(X[:, 0]),
                         _padded(X[:, 1]), points, boundary=classifier,
                         title="The network's output over its two inputs",
                         x_label="input 1", y_label="input 2")
    if classifier:
        caption = ("Every target is 0 or 1, so the output is read as a class: the line is the "
                   "decision boundary, output 0.5. Points are the data, blue for target 1, "
                   "orange for 0.")
    else:
        caption = ("The targets are not all 0 or 1, so no decision boundary is drawn: the "
                   "shading is the output. Points are the data.")
    if len(X) > MAX_POINTS:
        caption += f" The first {MAX_POINTS} of the {len(X)} rows are marked."
    return _figure(chart, caption)


def _model_curve(net: Network, x: FloatArray, y: FloatArray) -> str:
    grid = np.linspace(*_padded(x), 300)
    curve = net.predict(grid[:, None])[:, 0]
    chart = line_chart([("the network", grid, curve, "line"),
                        ("the data", x[:MAX_POINTS], y[:MAX_POINTS], "dots")],
                       title="The fitted curve", x_label="input", y_label="output")
    caption = "The network's output over the data's range, and the data."
    if len(x) > MAX_POINTS:
        caption += f" The first {MAX_POINTS} of the {len(x)} rows are marked."
    return _figure(chart, caption)
