"""matnn.gradcheck where the loss's own rounding is far above a few ulps of it:
right gradients pass, wrong ones are still caught, and the allowance is
measured from the loss alone, in float64, away from kinks."""

import numpy as np
import pytest

import matnn.gradient_check
from matnn import GradcheckError, Network, gradcheck
from matnn.gradient_check import NOISE_SAFETY, NOISE_SAMPLES, ROUNDING_ULPS
from test_gradient_check import Corrupted, alice, document_network, random_batch, random_layers

EPS64 = np.finfo(np.float64).eps


def softmax_with_binary_cross_entropy(cls=Network, **kwargs):
    """The case hypothesis found in test_open_core: a softmax output whose third
    sample has p = 0.99975, so the generic binary_cross_entropy's ``1 - p``
    keeps only about four of its digits."""
    net = Network.from_sizes([3, 2], ["softmax"], seed=1965, loss="binary_cross_entropy")
    rng = np.random.default_rng(1965)
    net.params += rng.normal(0, 0.3, net.params.shape)
    X = rng.uniform(-2, 2, (3, 3))
    y = rng.uniform(0, 1, (3, 2))
    if cls is not Network:
        net = cls(net.layers, loss=net.loss_fn, **kwargs)
    return net, X, y


class Cancelling(Network):
    """A loss computed as ``(1000 + L) - 1000``: right in value, but rounded
    to the ulps of 1000 (1.1e-13), some 8,000 times those of ``L`` (0.12 below)."""

    def loss(self, X, y):
        return (1000.0 + super().loss(X, y)) - 1000.0


class CancellingCorrupted(Cancelling, Corrupted):
    pass


def fixed_bound_only(monkeypatch):
    """gradcheck as it was: no allowance for the measured noise (and no
    extrapolation of the differences, whose rounding bounds would then leave
    out the noise too)."""
    monkeypatch.setattr(matnn.gradient_check, "NOISE_SAFETY", 0)
    monkeypatch.setattr(matnn.gradient_check, "TRUNCATION_LIMIT", 0)


# -- right gradients pass ---------------------------------------------------------------

def test_softmax_with_binary_cross_entropy_passes_though_its_loss_cancels(monkeypatch):
    net, X, y = softmax_with_binary_cross_entropy()
    assert net.forward(X)[-1][2, 1] == pytest.approx(0.99975, abs=1e-5)
    result = gradcheck(net, X, y)
    assert result.ok and result.noisy_loss
    assert f"loss rounding noise ~{result.loss_noise:.1e}" in str(result)
    # The noise it allowed for is above the whole fixed bound of 16 ulps of the loss ...
    assert result.loss_noise > ROUNDING_ULPS * EPS64 * net.loss(X, y)
    # ... and well below what would let a wrong gradient through (see below).
    assert NOISE_SAFETY * result.loss_noise / (2 * result.eps) < 1e-7
    # With the fixed bound alone, the rounding reads as a wrong gradient (rel. 2.8e-8).
    fixed_bound_only(monkeypatch)
    before = gradcheck(net, X, y, raise_exception=False)
    assert not before.ok
    assert max(p.max_rel_error for p in before.params) > 1e-8


def test_a_subclass_whose_own_loss_cancels_passes(monkeypatch):
    sizes = (3, 4, 2)
    net = Cancelling(random_layers(sizes, ("tanh", "sigmoid"), 0))
    X, y = random_batch(sizes, 3, 1)
    result = gradcheck(net, X, y)
    assert result.ok
    assert result.loss_noise > 1e-14
    fixed_bound_only(monkeypatch)
    assert not gradcheck(net, X, y, raise_exception=False).ok


# -- wrong gradients are still caught -----------------------------------------------------

WRONG = {
    "scaled by 1 + 1e-6": lambda g: g * (1 + 1e-6),
    "plus 1e-7": lambda g: g + 1e-7,
}


@pytest.mark.parametrize("wrong", WRONG)
@pytest.mark.parametrize("kind, index", [("W", (1, 1)), ("b", (0,))])
def test_a_slightly_wrong_entry_is_caught_where_the_loss_cancels(kind, index, wrong):
    net, X, y = softmax_with_binary_cross_entropy(
        Corrupted, layer=0, kind=kind, index=index, corrupt=WRONG[wrong])
    with pytest.raises(GradcheckError) as caught:
        gradcheck(net, X, y)
    (failure,) = caught.value.result.failures
    assert failure.name == f"layers[0].{kind}"
    assert [e.index for e in failure.worst()] == [index]
    assert ", loss rounding noise ~" in str(caught.value)


def test_a_wrong_entry_is_caught_in_a_subclass_whose_loss_cancels():
    sizes = (3, 4, 2)
    net = CancellingCorrupted(random_layers(sizes, ("tanh", "sigmoid"), 0), layer=1,
                              kind="W", index=(0, 2), corrupt=lambda g: g + 1e-6)
    with pytest.raises(GradcheckError) as caught:
        gradcheck(net, *random_batch(sizes, 3, 1))
    (failure,) = caught.value.result.failures
    assert [e.index for e in failure.worst()] == [(0, 2)]


def test_the_noise_is_measured_from_the_loss_alone_not_the_gradient_under_test():
    # So a wrong gradient cannot raise the allowance it is checked against.
    right = gradcheck(*softmax_with_binary_cross_entropy())
    for corrupt in (lambda g: -g, lambda g: g * 1e6):
        net, X, y = softmax_with_binary_cross_entropy(
            Corrupted, layer=0, kind="W", index=(0, 2), corrupt=corrupt)
        wrong = gradcheck(net, X, y, raise_exception=False)
        assert not wrong.ok
        assert wrong.loss_noise == right.loss_noise


# -- how the noise is measured ------------------------------------------------------------

def test_the_noise_is_seeded_and_leaves_the_global_generator_alone():
    net, X, y = softmax_with_binary_cross_entropy()
    state = np.random.get_state()[1].copy()
    first, again = gradcheck(net, X, y, seed=5), gradcheck(net, X, y, seed=5)
    assert first.loss_noise == again.loss_noise
    assert gradcheck(net, X, y, seed=6).loss_noise != first.loss_noise
    assert np.array_equal(np.random.get_state()[1], state)


def test_only_a_mismatch_pays_for_measuring_the_noise():
    calls = []

    class Counted(Corrupted):
        def loss(self, X, y):
            calls.append(1)
            return super().loss(X, y)

    def check(corrupt):
        calls.clear()
        net = Counted(document_network().layers, layer=1, kind="b", index=(0,), corrupt=corrupt)
        return gradcheck(net, *alice(), raise_exception=False)

    # Two losses per parameter, and no more when every entry passes ...
    assert check(lambda g: g).loss_noise is None
    assert len(calls) == 2 * 9
    # ... four per direction more when one does not, and two for its
    # difference at eps / 2, which estimates its truncation error.
    assert check(lambda g: -g).loss_noise is not None
    assert len(calls) == 2 * 9 + 4 * NOISE_SAMPLES + 2


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_noise_of_a_float32_network_is_that_of_its_float64_differences(dtype):
    # The differences are taken on a float64 twin, so the noise is float64's
    # (about 1e-16 here), not float32's (about 1e-8), and, below the fixed
    # bound, the report does not mention it.
    net = Corrupted(document_network(dtype).layers, layer=1, kind="b", index=(0,),
                    corrupt=lambda g: -g)
    result = gradcheck(net, *alice(), raise_exception=False)
    assert not result.ok
    assert 0 < result.loss_noise < 1e-15
    assert not result.noisy_loss and "rounding noise" not in result.report()


def test_a_relu_kink_inside_the_noise_steps_is_not_taken_for_noise():
    # The hidden units sit 1e-8 above relu's kink on the first sample, inside
    # the noise steps (about 5e-8). Taken for rounding noise, the kink would
    # read as about 5e-10 and allow errors of 2e-4 on every entry, this 1e-5 too.
    layers = random_layers((2, 3, 1), ("relu", "sigmoid"), 0)
    layers[0].b[...] = 1e-8
    net = Corrupted(layers, layer=1, kind="W", index=(0, 1), corrupt=lambda g: g + 1e-5)
    with pytest.raises(GradcheckError) as caught:
        gradcheck(net, [[0.0, 0.0], [1.0, -2.0]], [1.0, 0.0])
    result = caught.value.result
    assert [p.n_unreliable for p in result.params] == [0, 3, 0, 0]
    assert [e.index for p in result.failures for e in p.worst()] == [(0, 1)]
    assert result.loss_noise < 1e-15


def test_scipy_has_no_measured_noise_and_its_report_says_none():
    net, X, y = softmax_with_binary_cross_entropy(
        Corrupted, layer=0, kind="b", index=(1,), corrupt=lambda g: -g)
    result = gradcheck(net, X, y, method="scipy", raise_exception=False)
    assert not result.ok and result.loss_noise is None
    assert "rounding noise" not in result.report()
