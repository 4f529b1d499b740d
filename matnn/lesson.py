"""The lesson as one self-contained HTML page, and a page for any model.

:func:`lesson_page` computes everything it shows with the project's own
code: the worked example with :func:`matnn.explain.explain` (the scalar
shim) and :func:`matnn.draw.draw` (``Network.forward`` and
``Network.gradients``), the training run with the scalar shim and
``Network.fit`` from the same start, and the many-seeds study with
:func:`matnn.seeds.train_seeds`. :func:`model_page` draws a user's network
and what it computes. The pages hold inline SVG only: no script, no
stylesheet, font or image from elsewhere, so they open offline in any
browser. They are also well-formed XML.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from . import data, scalar
from .charts import PALETTE, decision_map, histogram, line_chart
from .draw import draw
from .explain import explain
from .network import Network
from .seeds import document_networks, train_seeds
from .svg import esc, fmt
from .validation import check_batch, check_int

__all__ = ["lesson_page", "model_page", "WEIGHT_RANGE", "HEIGHT_RANGE"]

#: The decision boundary's axes, in the lesson's units (lb and in).
WEIGHT_RANGE = (100.0, 180.0)
HEIGHT_RANGE = (56.0, 76.0)

_FEMALE, _MALE = PALETTE[0], PALETTE[1]

_STYLE = """
body { font-family: sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em;
       color: #1a202c; line-height: 1.45; }
h1 { font-size: 1.7em; } h2 { margin-top: 2em; border-bottom: 1px solid #cbd5e0; }
figure { margin: 1em 0; } figcaption { color: #4a5568; font-size: 0.92em; }
table { border-collapse: collapse; } td, th { padding: 0.2em 0.8em; text-align: left; }
.number { font-weight: bold; }
svg { max-width: 100%; height: auto; }
"""


def _page(title, body):
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8"/>\n'
            f'<title>{esc(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n'
            f'<h1>{esc(title)}</h1>\n{body}</body>\n</html>\n')


def _figure(svg, caption):
    return f"<figure>\n{svg}<figcaption>{esc(caption)}</figcaption>\n</figure>\n"


def _p(content):
    return f"<p>{esc(content)}</p>\n"


def _quiet(function, *args, **kwargs):
    """Call ``function`` with its printing (the scalar shim's loss log) swallowed."""
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args, **kwargs)


def lesson_page(*, runs=200, seed=0):
    """The lesson page: worked example, training, trained network, many seeds.

    Parameters
    ----------
    runs : int >= 1
        Seeds 0..runs-1 for the many-seeds section (1000 epochs each, one
        ensemble; 200 runs take about a quarter of a second).
    seed : int >= 0
        The training run starts as the lesson's code does after
        ``np.random.seed(seed)``.

    Returns
    -------
    str
        The HTML page.
    """
    runs = check_int(runs, "runs", 1)
    seed = check_int(seed, "seed", 0)
    body = [_p("The network from the lesson \u201cbuilding a neural network from scratch\u201d: "
               "two inputs (weight and height, shifted by 135 lb and 66 in), two hidden sigmoid "
               "neurons h1 and h2, and one output o1 that should be 1 for a woman (F) and 0 for "
               "a man (M). Every number on this page was computed by matnn when the page was "
               "made.")]
    body.append(_worked_example())
    trained = _training(seed)
    body.append(trained[0])
    body.append(_trained_network(trained[1], seed))
    body.append(_many_seeds(runs))
    return _page("The lesson's network, drawn", "".join(body))


def _worked_example():
    e = explain("w1", "Alice")
    bp = e.backprop
    x, y_true = data.sample("Alice")
    product = " \u00d7 ".join(fmt(v) for v in e.rounded_factors)
    return "".join([
        "<h2>1. The worked example</h2>\n",
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
                "Network.gradients)."),
    ])


def _training(seed):
    (net,) = document_networks([seed])
    doc_net = scalar.from_network(net)
    scalar_log = _quiet(doc_net.train, data.X, data.y)
    losses = net.fit(data.X, data.y, epochs=1000, learning_rate=0.1, batch_size=1,
                     shuffle=False).loss
    difference = float(np.max(np.abs(scalar.to_network(doc_net).params - net.params)))
    epochs, scalar_losses = zip(*scalar_log)
    chart = line_chart(
        [("matrix form, Network.fit (every epoch)", np.arange(len(losses)), losses, "line"),
         ("scalar shim (every 10 epochs)", epochs, scalar_losses, "dots")],
        title=f"Training from np.random.seed({seed}), learning rate 0.1",
        x_label="epoch", y_label="MSE loss (log scale)", log_y=True)
    section = "".join([
        "<h2>2. Training</h2>\n",
        _p(f"The lesson trains for 1000 epochs, one person at a time, with learning rate "
           f"0.1. Here it starts where the lesson's code starts after np.random.seed({seed}), "
           f"once as the lesson's scalar code (matnn.scalar) and once in matrix form "
           f"(Network.fit with batch_size=1, shuffle=False). The two curves lie on top of "
           f"each other: after training, the largest difference between their parameters is "
           f"{fmt(difference)}."),
        _figure(chart, f"The loss falls from {fmt(losses[0])} to {fmt(losses[-1])}; the log "
                       "scale shows the slow final descent that a linear axis flattens."),
    ])
    return section, net


def _people_points(predictions=None):
    points = [(w, h, name, _FEMALE if g == "F" else _MALE, True)
              for name, w, h, g in data.PEOPLE]
    for (name, x, expected), p in zip(data.QUERIES, predictions):
        w, h = x[0] - data.SHIFT[0], x[1] - data.SHIFT[1]
        points.append((w, h, f"{name}? {fmt(p)}", _FEMALE if expected == "F" else _MALE, False))
    return points


def _trained_network(net, seed):
    queries = np.array([x for _, x, _ in data.QUERIES])
    predictions = net.predict(queries)[:, 0]
    shift = np.array(data.SHIFT, dtype=np.float64)

    def output(weight_height):
        return net.predict(weight_height + shift)[:, 0]

    chart = decision_map(output, WEIGHT_RANGE, HEIGHT_RANGE, _people_points(predictions),
                         title="What the trained network decides", x_label="weight (lb)",
                         y_label="height (in)")
    said = "; ".join(f"{name} ({x[0] - data.SHIFT[0]} lb, {x[1] - data.SHIFT[1]} in): "
                     f"{fmt(p)}, so {'F' if p > 0.5 else 'M'} (the lesson expects {expected})"
                     for (name, x, expected), p in zip(data.QUERIES, predictions))
    emily = data.EMILY
    return "".join([
        "<h2>3. The trained network</h2>\n",
        _figure(draw(net, emily),
                f"The network after training (seed {seed}), with Emily's numbers. The "
                "lesson's names: w1..w4 and b1, b2 feed the hidden neurons, w5, w6 and b3 "
                "the output."),
        _figure(chart,
                "Its output over weight and height, in the lesson's units; the line is the "
                "decision boundary o1 = 0.5. Filled: the four people it learned from "
                "(blue F, orange M). Hollow: Emily and Frank, the two it is asked about, "
                "with its answer."),
        _p(said + "."),
    ])


def _many_seeds(runs):
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
        "<h2>4. Many seeds</h2>\n",
        _p(f"The lesson trains once, from one random start. Here the same training runs from "
           f"np.random.seed(s) for s = 0..{runs - 1}, all at once as one matnn.Ensemble "
           f"(matnn.seeds.train_seeds)."),
        f'<p>Training succeeds (Emily classified F and Frank M) in '
        f'<span class="number">{correct} of {runs}</span> runs '
        f'({esc(f"{correct / runs:.1%}")}); {int(r.failed.sum())} diverged.</p>\n',
        _figure(chart, peaks),
    ])


def model_page(net, X, y, *, source="the data"):
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
        The HTML page. Networks with 2 inputs and 1 output get their output
        over the data's range (with the decision boundary when every target
        is 0 or 1); 1 input and 1 output, the fitted curve; others the
        diagram and the loss only, and the page says so.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a matnn.Network, got {type(net).__name__}")
    X, Y = check_batch(X, y, net.n_in, net.n_out, net.dtype)
    loss = net.loss(X, Y)
    sizes = "-".join(map(str, net.sizes))
    body = [_p(f"A {sizes} network ({', '.join(net.activations)}) and {len(X)} rows of "
               f"{source}."),
            f'<p>Loss on the data (net.loss): <span class="number">{esc(fmt(loss, 6))}</span></p>\n',
            "<h2>The network</h2>\n",
            _figure(draw(net), "Blue edges are positive weights, red negative; thicker is "
                               "larger.")]
    body.append("<h2>What it computes</h2>\n")
    if net.n_out == 1 and net.n_in == 2:
        body.append(_model_map(net, X, Y[:, 0]))
    elif net.n_out == 1 and net.n_in == 1:
        body.append(_model_curve(net, X[:, 0], Y[:, 0]))
    else:
        body.append(_p(f"Not drawn: this network has {net.n_in} inputs and {net.n_out} "
                       "outputs, and its function is drawn only for 1 or 2 inputs and 1 "
                       "output. The diagram and the loss are above."))
    return _page(f"A {sizes} network on {source}", "".join(body))


def _padded(values):
    low, high = float(values.min()), float(values.max())
    pad = (high - low) * 0.1 or max(abs(low) * 0.1, 1.0)
    return low - pad, high + pad


#: At most this many data points are marked on a model page's chart.
MAX_POINTS = 500


def _model_map(net, X, y):
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


def _model_curve(net, x, y):
    grid = np.linspace(*_padded(x), 300)
    curve = net.predict(grid[:, None])[:, 0]
    chart = line_chart([("the network", grid, curve, "line"),
                        ("the data", x[:MAX_POINTS], y[:MAX_POINTS], "dots")],
                       title="The fitted curve", x_label="input", y_label="output")
    caption = "The network's output over the data's range, and the data."
    if len(x) > MAX_POINTS:
        caption += f" The first {MAX_POINTS} of the {len(x)} rows are marked."
    return _figure(chart, caption)
