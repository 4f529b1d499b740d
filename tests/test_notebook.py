"""matnn in Jupyter: cells run in a real kernel (nbclient), their outputs read back.

Skipped, saying why, without nbclient, nbformat or ipykernel (the test extra
installs them).
"""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need nbformat "
                               "(pip install -e '.[test]')")
nbclient = pytest.importorskip("nbclient", reason="the notebook tests need nbclient "
                               "(pip install -e '.[test]')")
pytest.importorskip("ipykernel", reason="the notebook tests need a Python kernel, ipykernel "
                    "(pip install -e '.[test]')")
# The notebooks draw History.plot's figure.
pytest.importorskip("matplotlib", reason="the notebook tests draw with matplotlib "
                    "(pip install -e '.[test,plot]')")

LESSON = Path(__file__).parent.parent / "docs" / "lesson.ipynb"
SVG = "{http://www.w3.org/2000/svg}"
WIDGET = "application/vnd.jupyter.widget-view+json"


def execute(notebook, cwd):
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def run_cells(sources, tmp_path):
    """The executed notebook of these cells, run in order in one kernel."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    return execute(notebook, tmp_path)


def widget_states(notebook):
    """{model id: state} of the widgets as the kernel left them (nbclient keeps them)."""
    store = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]
    return {key: model["state"] for key, model in store["state"].items()}


def displayed(outputs, kind):
    """The ``kind`` (a MIME type) of each output that has one."""
    return [o["data"][kind] for o in outputs if kind in o.get("data", {})]


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    return run_cells([
        "import matnn\nfrom matnn import data\n"
        "net = matnn.Network.from_sizes([2, 2, 1], seed=0)\n"
        "matnn.draw(net, data.X[0], data.y[0])",
        "net",
        "history = net.fit(data.X, data.y, epochs=300, learning_rate=0.1, batch_size=1,\n"
        "                  shuffle=False, validation_data=(data.X, data.y))\n"
        "ax = history.plot()",
        "print(type(ax).__name__, ax.get_yscale(), [l.get_label() for l in ax.get_lines()])",
        "history = net.fit(data.X, data.y, epochs=50, learning_rate=0.1, progress=True)",
    ], tmp_path_factory.mktemp("notebook"))


@pytest.fixture(scope="module")
def outputs(notebook):
    return [cell.outputs for cell in notebook.cells]


def test_a_drawing_displays_as_svg(outputs):
    (svg,) = displayed(outputs[0], "image/svg+xml")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("aria-label") == "2-2-1 network, sigmoid"
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert "h1" in texts and any(t.startswith("dL/dw1 = ") for t in texts)
    # Its text form is its repr, not the escaped SVG.
    assert displayed(outputs[0], "text/plain") == ["<matnn.Drawing: 2-2-1 network, sigmoid>"]


def test_a_network_displays_as_its_drawing(outputs):
    (svg,) = displayed(outputs[1], "image/svg+xml")
    assert ET.fromstring(svg).get("aria-label") == "2-2-1 network, sigmoid"


def test_history_plot_draws_in_the_notebook(outputs):
    (png,) = displayed(outputs[2], "image/png")
    assert png  # base64 of the figure
    (line,) = [o["text"] for o in outputs[3] if o["output_type"] == "stream"]
    # 300 epochs of the lesson take the loss from 0.35 to under 0.035.
    assert line == "Axes log ['loss', 'val_loss', 'best_epoch 299']\n"


def test_progress_is_a_widget_in_the_notebook(notebook, outputs):
    (view,) = displayed(outputs[4], WIDGET)
    assert not [o for o in outputs[4] if o.get("name") == "stderr"]  # not the text bar
    # tqdm's widget: a box of a label, the bar and the counts, left finished.
    states = widget_states(notebook)
    children = [ref.removeprefix("IPY_MODEL_") for ref in states[view["model_id"]]["children"]]
    label, bar, counts = (states[c] for c in children)
    assert (bar["value"], bar["max"], bar["bar_style"]) == (50, 50, "success")
    assert label["value"].replace("\u2007", " ") == "fit: 100%"
    assert "50/50" in counts["value"] and "loss=" in counts["value"]


def test_the_lesson_notebook_is_stored_without_outputs():
    notebook = nbformat.read(LESSON, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_the_lesson_notebook_runs_top_to_bottom(tmp_path):
    notebook = execute(nbformat.read(LESSON, as_version=4), LESSON.parent)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o["output_type"] == "error"]
    # Nothing on stderr: no warning, no traceback.
    assert not [o["text"] for o in outputs if o.get("name") == "stderr"]
    text = json.dumps([o.get("text", "") for o in outputs])
    for number in ("0.0474", "dW1[0, 0] = delta1[0, 0] * X[0, 0] = -0.0107 * -2 = 0.0215",
                   "in 200 of 200 runs"):
        assert number in text, number
    assert len(displayed(outputs, "image/svg+xml")) == 4
    assert len(displayed(outputs, "image/png")) == 2
    assert len(displayed(outputs, WIDGET)) == 1  # training's progress bar
