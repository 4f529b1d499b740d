"""The shim against the document's own code, run from the reference copy.

The document's section-4 program is read out of
``shared/reference/seed-document.md`` at test time and executed (it is not
copied into matnn). After the same ``np.random.seed`` both must print the same
lines and end with the same parameters, to the last bit.
"""

import contextlib
import io
import os
import re
from pathlib import Path

import numpy as np
import pytest

from matnn import data, scalar


def _find_document():
    candidates = [os.environ.get("MATNN_SEED_DOCUMENT")]
    here = Path(__file__).resolve()
    # CI lays shared/ beside the clone; a developer's checkout sits beside it too.
    candidates += [p / "shared" / "reference" / "seed-document.md" for p in here.parents]
    for path in candidates:
        if path and Path(path).is_file():
            return Path(path)
    return None


DOCUMENT = _find_document()
pytestmark = pytest.mark.skipif(
    DOCUMENT is None,
    reason="the reference copy of the seed document is not beside this checkout "
    "(set MATNN_SEED_DOCUMENT to its path)",
)


def _document_training_program():
    blocks = re.findall(r"```python\n(.*?)```", DOCUMENT.read_text(encoding="utf-8"), re.S)
    (program,) = [b for b in blocks if "def train" in b]
    return program


def _run_document(seed):
    namespace = {}
    out = io.StringIO()
    np.random.seed(seed)
    with contextlib.redirect_stdout(out):
        exec(compile(_document_training_program(), str(DOCUMENT), "exec"), namespace)
    return namespace, out.getvalue().splitlines()


def _run_shim(seed):
    out = io.StringIO()
    np.random.seed(seed)
    net = scalar.OurNeuralNetwork()
    initial = net.params()
    with contextlib.redirect_stdout(out):
        net.train(data.X, data.y)
    return net, initial, out.getvalue().splitlines()


@pytest.mark.parametrize("seed", [0, 1, 2024])
def test_shim_is_bit_identical_to_the_document(seed):
    namespace, doc_lines = _run_document(seed)
    shim, _, shim_lines = _run_shim(seed)
    doc_net = namespace["network"]
    assert len(doc_lines) == 100
    assert shim_lines == doc_lines
    for name in scalar.PARAM_NAMES:
        assert getattr(shim, name).hex() == float(getattr(doc_net, name)).hex(), name
    for x in (data.EMILY, data.FRANK):
        assert shim.feedforward(x) == doc_net.feedforward(x)

