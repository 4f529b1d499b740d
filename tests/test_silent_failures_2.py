"""Issue 20, part A: nothing silently wrong, round 2.

One test (or a few) per problem the red team's probes found: a model file
that loads as another network, an export by name, a loss that has no
meaning for its output, a layer that cannot learn, a file read without
bound, a race between threads, an environment variable read too late,
ill-formed XML, and errors that named the wrong thing. Where the right
answer is to refuse, the test checks the one error and that nothing was
written; references are independent of matnn's code (exact rational
arithmetic, PyTorch, an XML parser).
"""

import os
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from fractions import Fraction

import numpy as np
import pytest

import matnn
from matnn import Activation, Dense, Ensemble, Loss, Network, threads
from matnn.csvfile import read_table
from matnn.lesson import model_page

X = np.array([[0.5, -1.0], [1.0, 2.0], [-2.0, 0.3]])


def mine(name):
    """A user activation (tanh) of that name."""
    return Activation(name, np.tanh, lambda A: 1 - A ** 2, derivative_from="output")


def my_loss(name):
    """A user loss (the MSE per row) of that name."""
    return Loss(name, lambda Y, P: float(np.mean(np.sum((P - Y) ** 2, axis=1))),
                lambda Y, P: 2 * (P - Y) / len(Y))


def refused_at_save(net, tmp_path, match):
    path = tmp_path / "model.npz"
    with pytest.raises(ValueError, match=match):
        net.save(path)
    assert os.listdir(tmp_path) == []  # nothing written, not even a temporary file


# -- 2 and 6: what save writes loads back as the same network, or save refuses ----

def test_two_different_activations_with_one_name_are_refused_at_save(tmp_path):
    # load would rebuild both layers from the one custom["mine"].
    first, second = mine("mine"), Activation("mine", np.sin, np.cos)
    net = Network.from_sizes([2, 3, 3, 1], [first, second, "sigmoid"], seed=0)
    refused_at_save(net, tmp_path, r"layers\[0\]'s activation and layers\[1\]'s activation are "
                                   r"two different objects, both named 'mine'")


def test_a_name_with_a_trailing_nul_is_refused_at_save(tmp_path):
    # numpy drops the NUL, so the file would load as the built-in sigmoid.
    net = Network.from_sizes([2, 3, 1], [mine("sigmoid\x00"), "sigmoid"], seed=0)
    refused_at_save(net, tmp_path, r"named 'sigmoid\\x00', which a model file cannot hold.*"
                                   r"would load as 'sigmoid'")
    net = Network.from_sizes([2, 3, 1], seed=0, loss=my_loss("rows\x00\x00"))
    refused_at_save(net, tmp_path, r"the network's loss is a user-defined loss named 'rows\\x00")


@pytest.mark.parametrize("activation, loss, match", [
    (mine("mse"), "mse", r"layers\[0\] has a user-defined activation named 'mse', the name of "
                         r"a built-in loss"),
    ("sigmoid", my_loss("sigmoid"), r"the network's loss is a user-defined loss named "
                                    r"'sigmoid', the name of a built-in activation"),
    (mine("same"), my_loss("same"), r"layers\[0\]'s activation and the network's loss are two "
                                    r"different objects, both named 'same'"),
])
def test_names_that_load_could_never_read_back_are_refused_at_save(tmp_path, activation, loss,
                                                                    match):
    # load refuses any built-in's name in custom, and custom holds one object a name.
    net = Network.from_sizes([2, 3, 1], [activation, "sigmoid"], seed=0, loss=loss)
    refused_at_save(net, tmp_path, match)


def test_what_save_accepts_loads_back_given_its_own_custom_parts(tmp_path):
    cube = Activation("cube", lambda Z: Z ** 3, lambda Z: 3 * Z ** 2)
    loss = my_loss("rows")
    # One object in two layers is one name, and loads as that object.
    net = Network.from_sizes([2, 3, 3, 1], [cube, cube, "tanh"], seed=0, loss=loss)
    net.save(tmp_path / "model.npz")
    back = matnn.load(tmp_path / "model.npz", custom={"cube": cube, "rows": loss})
    assert [layer.activation for layer in back.layers] == [cube, cube, matnn.ACTIVATIONS["tanh"]]
    assert back.loss_fn is loss
    np.testing.assert_array_equal(back.predict(X), net.predict(X))


@pytest.mark.parametrize("name, obj", [("mse", my_loss("mse")), ("sigmoid", mine("sigmoid")),
                                       ("mse", mine("mse"))])
def test_load_refuses_a_built_in_name_in_custom(tmp_path, name, obj):
    Network.from_sizes([2, 1], seed=0).save(tmp_path / "model.npz")
    with pytest.raises(ValueError, match=rf"custom\['{name}'\]: '{name}' is a built-in's name"):
        matnn.load(tmp_path / "model.npz", custom={name: obj})


def test_a_custom_entry_of_the_wrong_kind_is_named_as_such(tmp_path):
    net = Network.from_sizes([2, 3, 1], [mine("cube"), "sigmoid"], seed=0, loss=my_loss("rows"))
    net.save(tmp_path / "model.npz")
    with pytest.raises(ValueError, match=r"activation 'cube' \(layer 0\) \(custom\['cube'\] is "
                                         r"Loss\('cube'\), not an Activation\), loss 'rows' "
                                         r"\(custom\['rows'\] is Activation\('rows'\), not a Loss\)"):
        matnn.load(tmp_path / "model.npz", custom={"cube": my_loss("cube"), "rows": mine("rows")})


# -- 3: the PyTorch bridge exports what an activation is, not what it is called ---------

def test_to_torch_refuses_a_user_activation_named_like_a_built_in():
    pytest.importorskip("torch")
    net = Network.from_sizes([2, 3, 1], [mine("relu"), "sigmoid"], seed=0)
    with pytest.raises(ValueError, match=r"layer 0's activation is a user-defined Activation "
                                         r"named 'relu', not the built-in relu"):
        matnn.to_torch(net)


def test_from_torch_refuses_a_model_on_the_meta_device():
    torch = pytest.importorskip("torch")
    with torch.device("meta"):
        module = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sigmoid())
    with pytest.raises(ValueError, match=r"module\[0\].weight is on the meta device"):
        matnn.from_torch(module)


def test_from_torch_refuses_a_float64_bias_beside_float32_weights():
    # Casting it down would silently round the bias.
    torch = pytest.importorskip("torch")
    module = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sigmoid())
    with torch.no_grad():
        module[0].bias = torch.nn.Parameter(torch.tensor([0.1, 1 + 2.0 ** -40, 0.3],
                                                         dtype=torch.float64))
    with pytest.raises(ValueError, match=r"module\[0\].bias is torch.float64 but "
                                         r"module\[0\].weight is torch.float32"):
        matnn.from_torch(module)


# -- 4: cross_entropy needs rows that are distributions ---------------------------

class UserSoftmax(Activation):
    """A user's row-wise activation: softmax, written as a subclass that is not elementwise."""

    elementwise = False

    def __init__(self):
        super().__init__("user_softmax", self._softmax, lambda A: None, derivative_from="output")

    @staticmethod
    def _softmax(Z):
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)

    def backward_into(self, A, G, scratch):
        G[...] = A * (G - np.sum(G * A, axis=1, keepdims=True))
        return G


@pytest.mark.parametrize("output", ["sigmoid", mine("my_tanh")], ids=["sigmoid", "user"])
def test_cross_entropy_refuses_an_elementwise_output_at_construction(output):
    # With sigmoid outputs the loss fell to 0 while accuracy sat at 0.79.
    match = "cross_entropy needs each output row to be a probability distribution"
    with pytest.raises(ValueError, match=match):
        Network.from_sizes([2, 3, 3], ["tanh", output], seed=0, loss="cross_entropy")
    with pytest.raises(ValueError, match=match):
        Network([Dense(np.eye(3), np.zeros(3), output)], loss="cross_entropy")
    with pytest.raises(ValueError, match=match):
        Ensemble.from_sizes([2, 3], 2, output, seed=0, loss="cross_entropy")


def test_cross_entropy_takes_softmax_or_a_users_row_wise_output():
    y = [0, 2, 1]
    for output in ("softmax", UserSoftmax()):
        net = Network([Dense([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [0.0, 0.1, 0.2], output)],
                      loss="cross_entropy")
        # -log of each row's softmax at its label, computed here.
        Z = X @ np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]).T + [0.0, 0.1, 0.2]
        log_p = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
        assert net.loss(X, y) == pytest.approx(-np.mean(log_p[[0, 1, 2], y]), rel=1e-12)


# -- 8: softmax over one output is the constant 1 ------------------------------------

def test_softmax_over_one_unit_is_refused_where_it_meets_its_width():
    match = r"activation softmax over a layer of 1 output \(W shape \(1, 3\)\) is always 1"
    with pytest.raises(ValueError, match=match):
        Dense(np.ones((1, 3)), np.zeros(1), "softmax")
    with pytest.raises(ValueError, match=match):
        Network.from_sizes([2, 3, 1], ["sigmoid", "softmax"], seed=0)
    with pytest.raises(ValueError, match=match):
        Ensemble.from_sizes([2, 3, 1], 3, ["sigmoid", "softmax"], seed=0)
    with pytest.raises(ValueError, match=r"over a layer of 1 output \(W shape \(1, 2\)\)"):
        Network.from_sizes([2, 1, 3], ["softmax", "softmax"], seed=0)  # a hidden layer too
    assert Dense(np.ones((2, 3)), np.zeros(2), "softmax").n_out == 2


# -- 12: CSV files are read like model files: regular files, with a bound -------------

@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_read_table_refuses_a_device_without_reading_it():
    # `matnn predict model.npz /dev/zero` read until it was killed for memory.
    with pytest.raises(ValueError, match="/dev/zero: not a regular file but a character device"):
        read_table("/dev/zero")


def test_read_table_refuses_a_directory(tmp_path):
    with pytest.raises(ValueError, match="not a regular file but a directory"):
        read_table(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_read_table_refuses_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    outcome = []

    def read():
        try:
            read_table(fifo)
        except ValueError as exc:
            outcome.append(str(exc))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    if reader.is_alive():
        # Release the blocked open, so that the thread ends.
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("read_table blocked on a FIFO")
    assert outcome and "not a regular file but a FIFO (named pipe)" in outcome[0]


def test_read_table_refuses_a_file_over_the_limit_with_its_size(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("1,2\n" * 1000)  # 4000 bytes
    with pytest.raises(ValueError, match=r"data.csv: the file is 4000 bytes, more than the 3999 "
                                         r"bytes a table may hold \(read_table's max_bytes\)"):
        read_table(path, max_bytes=3999)
    values, _ = read_table(path, max_bytes=4000)
    np.testing.assert_array_equal(values, np.tile([1.0, 2.0], (1000, 1)))
    assert matnn.csvfile.MAX_BYTES == 256 * 2**20


def test_read_table_bounds_what_it_reads_whatever_the_size_says():
    # /proc files report a size of 0 but hold more.
    status = "/proc/self/status"
    if not os.path.exists(status) or os.stat(status).st_size != 0:
        pytest.skip("needs a /proc file whose size reads 0")
    with pytest.raises(ValueError, match="holds more than the 16 bytes a table may hold"):
        read_table(status, max_bytes=16)


# -- 14 and 15: threads ---------------------------------------------------------------

@pytest.fixture
def restore_threads():
    before = matnn.get_num_threads()
    yield
    matnn.set_num_threads(before)


def test_raising_the_thread_count_never_kills_another_threads_work(race, restore_threads):
    # Each call raises the count, so each replaces the pool, which used to be
    # shut down while another thread was still handing it work: "cannot
    # schedule new futures after shutdown". Many tasks keep that window open.
    counts, lock, errors = iter(range(8, 1000)), threading.Lock(), []

    def work(rounds):
        for _ in range(rounds):
            with lock:
                n = next(counts)
            matnn.set_num_threads(n)
            try:
                threads.run_tasks(n, lambda state, i: i)
            except RuntimeError as exc:
                errors.append(exc)

    race(work, [(20,), (20,)])
    assert errors == []


@pytest.mark.parametrize("value, message", [
    ("four", "must be a whole number of threads >= 1, got 'four'"),
    ("0", "must be >= 1, got 0"),
])
def test_a_bad_thread_count_in_the_environment_fails_the_import(value, message):
    # It used to fail only at the first large computation, partway through a run.
    env = dict(os.environ, MATNN_NUM_THREADS=value)
    run = subprocess.run([sys.executable, "-c", "import matnn"], env=env, capture_output=True,
                         text=True)
    assert run.returncode != 0
    assert f"the environment variable MATNN_NUM_THREADS {message}" in run.stderr


# -- 21: names with characters XML cannot hold ----------------------------------------

def test_control_characters_in_names_leave_the_svg_and_the_page_well_formed():
    net = Network.from_sizes([2, 2, 1], [mine("a\x01b\ufffe"), "sigmoid"], seed=0)
    svg = str(matnn.draw(net))
    texts = " ".join(ET.fromstring(svg).itertext())
    assert "a\\x01b\\ufffe" in texts
    page = model_page(net, X, [1.0, 0.0, 1.0], source="data\x02.csv")
    root = ET.fromstring(page.split("\n", 1)[1])
    assert "data\\x02.csv" in " ".join(root.itertext())


# -- rough edges: errors that name the right thing ------------------------------------

@pytest.mark.parametrize("loss, error, message", [
    ("tanh", ValueError, "loss 'tanh' is the name of a built-in Activation, where a Loss is "
                         "expected"),
    (mine("cube"), TypeError, r"got Activation\('cube'\), an Activation where a Loss is "
                              "expected"),
])
def test_an_activation_where_the_loss_goes_is_called_an_activation(loss, error, message):
    with pytest.raises(error, match=message):
        Network.from_sizes([2, 1], seed=0, loss=loss)


@pytest.mark.parametrize("function, dtype", [(lambda Z: Z + 1j, "complex128"),
                                             (lambda Z: Z.astype(str), "<U32")])
def test_an_activation_returning_no_real_numbers_is_named(function, dtype):
    odd = Activation("odd", function, np.ones_like)
    net = Network.from_sizes([2, 3, 1], [odd, "sigmoid"], seed=0)
    with pytest.raises(TypeError, match=rf"the function of activation 'odd' returned an array "
                                        rf"of dtype {dtype}; it must return real numbers"):
        net.predict(X)


# -- tests that could not fail: BCE where p (1 - p) is tiny but above the clip ------

def bce_gradient_exactly(y, p, count):
    """d/dp of -(y log p + (1 - y) log(1 - p)), over ``count`` entries, in exact rationals."""
    y, p = Fraction(float(y)), Fraction(float(p))
    return (-y / p + (1 - y) / (1 - p)) / count


@pytest.mark.parametrize("dtype, P", [
    (np.float64, [1e-20, 1e-300, 3e-308, 1 - 2.0 ** -52]),
    (np.float32, [1e-30, 2e-38, 4e-8, 1 - 2.0 ** -23]),
])
def test_binary_cross_entropy_gradient_where_p_is_tiny_but_above_the_clip(dtype, P):
    # p (1 - p) is far below eps here, but above the smallest normal number,
    # where the clip starts; a clip at eps would be off by many orders.
    P = np.array([P, P], dtype)
    Y = np.array([[1, 0, 1, 0], [0, 1, 0, 1]], dtype)
    assert (P * (1 - P) > np.finfo(dtype).tiny).all()
    got = matnn.LOSSES["binary_cross_entropy"].gradient(Y, P)
    assert got.dtype == dtype
    want = [[float(bce_gradient_exactly(y, p, P.size)) for y, p in zip(*rows)]
            for rows in zip(Y, P)]
    np.testing.assert_allclose(got, want, rtol=8 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype, logits", [
    (np.float64, [-46.0, -300.0, -700.0, 30.0]),
    (np.float32, [-17.0, -40.0, -85.0, 12.0]),
])
def test_binary_cross_entropy_through_a_user_sigmoid_matches_torch_far_out(dtype, logits):
    # A user's sigmoid is not fused with the loss: the generic path divides
    # dL/dp by p (1 - p), down to 1e-304 here, and the sigmoid's derivative
    # multiplies it back. Every dL/dZ entry is compared, the tiny ones too.
    torch = pytest.importorskip("torch")
    my_sigmoid = Activation("my_sigmoid", lambda Z: 1 / (1 + np.exp(-Z)),
                            lambda A: A * (1 - A), derivative_from="output")
    W = np.array([[1.0], [0.5]])
    inputs = np.array(logits)[:, None]
    # Targets 0 beside the tiny p, whose gradient is p itself; none is 1 at
    # the positive logit, where the user's rounded 1 - p would be all there is.
    Y = np.array([[1, 0], [0, 1], [1, 0], [0, 0]], float)
    net = Network([Dense(W, [0.0, 0.0], my_sigmoid, dtype=dtype)], loss="binary_cross_entropy")
    (delta,), _ = net.backward(net.forward(inputs), Y)

    z = torch.tensor(inputs @ W.T, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.binary_cross_entropy_with_logits(
        z, torch.tensor(Y, dtype=torch.float64)).backward()
    assert delta.dtype == dtype
    np.testing.assert_allclose(delta, z.grad.numpy(), rtol=1e-12 if dtype == np.float64 else 1e-5)
