"""The PyTorch bridge: torch's own forward pass and autograd are the reference.

A network and its ``to_torch`` Sequential must give the same outputs and,
for the MSE, the same gradients: matnn's ``net.gradients`` against
``torch.autograd`` on ``torch.nn.functional.mse_loss`` (whose mean reduction
averages over every entry, as matnn's MSE does).
"""

import subprocess
import sys

import numpy as np
import pytest

import matnn
from matnn import Network, from_torch, to_torch

torch = pytest.importorskip("torch")
nn = torch.nn

NAMES = tuple(sorted(matnn.ACTIVATIONS))


def random_network(seed, dtype=np.float64):
    """A network of 1 to 4 layers, widths 1 to 7, random activations, non-zero biases."""
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(1, 8, size=rng.integers(2, 6))]
    acts = [str(a) for a in rng.choice(NAMES, size=len(sizes) - 1)]
    net = Network.from_sizes(sizes, acts, seed=rng, dtype=dtype)
    net.params[...] = rng.normal(0.0, 1.0, net.params.size)
    return net, rng


@pytest.mark.parametrize("seed", range(8))
def test_outputs_and_mse_gradients_agree_with_torch_autograd(seed):
    net, rng = random_network(seed)
    X = rng.normal(0.0, 2.0, size=(9, net.n_in))
    y = rng.normal(0.0, 1.0, size=(9, net.n_out))
    model = to_torch(net)

    Xt = torch.from_numpy(X)
    out = model(Xt)
    assert out.dtype == torch.float64
    # torch's Softplus is the identity above 20, within 2.1e-9 of the exact softplus.
    atol = 3e-9 if "softplus" in net.activations else 1e-14
    np.testing.assert_allclose(out.detach().numpy(), net.predict(X), rtol=1e-13, atol=atol)

    torch.nn.functional.mse_loss(out, torch.from_numpy(y)).backward()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert len(linears) == len(net.layers)
    for (dW, db), linear in zip(net.gradients(X, y), linears):
        np.testing.assert_allclose(dW, linear.weight.grad.numpy(), rtol=1e-10, atol=max(atol, 1e-13))
        np.testing.assert_allclose(db, linear.bias.grad.numpy(), rtol=1e-10, atol=max(atol, 1e-13))


@pytest.mark.parametrize("seed", range(4))
def test_a_softmax_classifier_agrees_with_torchs_cross_entropy(seed):
    rng = np.random.default_rng(seed)
    net = Network.from_sizes([5, 7, 4], ["tanh", "softmax"], seed=rng, loss="cross_entropy")
    X = rng.normal(0.0, 2.0, size=(11, 5))
    labels = rng.integers(0, 4, size=11)
    model = to_torch(net)
    # Cross-entropy from the logits: the Sequential without its final Softmax.
    logits = model[:-1](torch.from_numpy(X))
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels))
    loss.backward()
    assert net.loss(X, labels) == pytest.approx(loss.item(), rel=1e-13)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for (dW, db), linear in zip(net.gradients(X, labels), linears):
        np.testing.assert_allclose(dW, linear.weight.grad.numpy(), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(db, linear.bias.grad.numpy(), rtol=1e-10, atol=1e-14)
    back = from_torch(model, loss="cross_entropy")
    assert back.loss_fn is matnn.LOSSES["cross_entropy"]
    assert back.loss(X, labels) == net.loss(X, labels)


def test_to_torch_refuses_a_user_defined_activation():
    cube = matnn.Activation("cube", lambda Z: Z ** 3, lambda Z: 3 * Z ** 2)
    net = Network.from_sizes([2, 3, 1], [cube, "identity"], seed=0)
    with pytest.raises(ValueError, match="cube"):
        to_torch(net)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(4))
def test_round_trip_is_exact(seed, dtype):
    net, _ = random_network(seed, dtype)
    back = from_torch(to_torch(net))
    assert back.dtype == net.dtype
    assert back.sizes == net.sizes
    assert back.activations == net.activations
    np.testing.assert_array_equal(back.params, net.params)


def test_torch_to_matnn_to_torch_is_exact():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3), nn.Tanh(),
                          nn.Linear(3, 2)).double()
    again = to_torch(from_torch(model))
    assert [type(m) for m in again] == [type(m) for m in model]
    for (key, a), (key2, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert key == key2
        assert torch.equal(a, b)


def test_from_torch_reads_float32_and_its_outputs_agree():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 4), nn.Sigmoid(), nn.Linear(4, 2), nn.Identity())
    net = from_torch(model)
    assert net.dtype == np.float32
    assert net.activations == ("sigmoid", "identity")
    X = np.random.default_rng(1).normal(size=(7, 5)).astype(np.float32)
    expected = model(torch.from_numpy(X)).detach().numpy()
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-5, atol=1e-6)


def test_linear_without_bias_gets_zero_biases():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 4, bias=False), nn.Tanh(), nn.Linear(4, 1)).double()
    net = from_torch(model)
    np.testing.assert_array_equal(net.layers[0].b, np.zeros(4))
    X = np.random.default_rng(2).normal(size=(6, 3))
    np.testing.assert_allclose(net.predict(X), model(torch.from_numpy(X)).detach().numpy(),
                               rtol=1e-13, atol=1e-14)


def test_the_copies_are_independent():
    net, _ = random_network(3)
    before = net.params.copy()
    model = to_torch(net)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    np.testing.assert_array_equal(net.params, before)
    back = from_torch(model)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    np.testing.assert_array_equal(back.layers[0].W, net.layers[0].W + 1.0)


def test_to_torch_leaves_torchs_random_state_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    to_torch(random_network(0)[0])
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("module, message", [
    (nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5), nn.Linear(3, 1)), r"module\[1\] is Dropout"),
    (nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Linear(3, 1))), r"module\[1\] is Sequential"),
    (nn.Sequential(nn.Conv1d(1, 1, 1)), r"module\[0\] is Conv1d"),
    (nn.Sequential(nn.Linear(2, 3), nn.ELU()), r"module\[1\] is ELU"),
    (nn.Sequential(nn.Tanh(), nn.Linear(2, 1)), r"module\[0\] is Tanh\(\) before any Linear"),
    (nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.ReLU()), r"module\[2\] is ReLU.*after another"),
    (nn.Linear(2, 3), r"must be a torch.nn.Sequential, got Linear \(wrap it"),
    ([nn.Linear(2, 3)], r"must be a torch.nn.Sequential, got list"),
])
def test_from_torch_refuses_what_matnn_cannot_express(module, message):
    with pytest.raises(TypeError, match=message):
        from_torch(module)


@pytest.mark.parametrize("module, message", [
    (nn.LeakyReLU(0.2), r"module\[1\] is LeakyReLU.*negative_slope=0.2"),
    (nn.Softplus(beta=2.0), r"module\[1\] is Softplus.*beta=2.0"),
    (nn.Softplus(threshold=10.0), r"module\[1\] is Softplus.*threshold=10.0"),
    (nn.GELU(approximate="tanh"), r"module\[1\] is GELU.*approximate='tanh'"),
    (nn.Softmax(dim=0), r"module\[1\] is Softmax.*dim=0"),
])
def test_from_torch_refuses_activation_settings_matnn_lacks(module, message):
    with pytest.raises(ValueError, match=message):
        from_torch(nn.Sequential(nn.Linear(2, 3), module))


def test_from_torch_refuses_empty_and_mixed_or_half_precision():
    with pytest.raises(ValueError, match="empty Sequential"):
        from_torch(nn.Sequential())
    mixed = nn.Sequential(nn.Linear(2, 3).double(), nn.Linear(3, 1).float())
    with pytest.raises(ValueError, match=r"module\[1\].weight is torch.float32 but "
                                         r"module\[0\].weight is torch.float64"):
        from_torch(mixed)
    with pytest.raises(ValueError, match=r"module\[0\].weight is torch.float16;"):
        from_torch(nn.Sequential(nn.Linear(2, 3).half()))


def test_to_torch_refuses_what_is_not_a_network():
    with pytest.raises(TypeError, match="net must be a matnn Network, got Sequential"):
        to_torch(nn.Sequential(nn.Linear(2, 1)))


def test_a_missing_torch_gets_a_one_line_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    net = Network.from_sizes([2, 1], seed=0)
    with pytest.raises(ImportError, match=r"^the PyTorch bridge needs torch: pip install torch$"):
        to_torch(net)
    with pytest.raises(ImportError, match="pip install torch"):
        from_torch(object())


def test_importing_matnn_does_not_import_torch():
    code = "import sys, matnn; matnn.to_torch; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
    assert matnn.to_torch is to_torch
