"""matnn.gradcheck where the loss curves so sharply that the central
difference's truncation error, about eps**2 L''' / 6, exceeds the tolerance:
right gradients pass (Richardson's extrapolation removes it), wrong ones are
still caught, and only a mismatch pays for it."""

import pytest

import matnn.gradient_check
from matnn import GradcheckError, Network, gradcheck
from matnn.gradient_check import NOISE_SAMPLES
from test_gradient_check import Corrupted
from test_open_core import open_core_case

#: Right gradients that failed with the plain central difference, found by
#: test_open_core's generator (one-unit layers make the loss curve sharply):
#: activation, loss, architecture, the entry whose truncation error (positive
#: in all three) failed it, and an error of its analytic side the check
#: still resolves there on either side (see the wrong-gradient tests).
CURVED = {
    "gelu": ("gelu", "mse", dict(sizes=[3, 3, 1, 2], n=3, seed=8985, labels=True),
             (1, "W", (0, 0)), 4e-9),
    "tanh": ("tanh", "mse", dict(sizes=[3, 2, 1, 1], n=3, seed=9366, labels=False),
             (0, "W", (0, 1)), 2.5e-8),
    "silu": ("silu", "mse", dict(sizes=[2, 1, 4, 1], n=1, seed=4120, labels=False),
             (2, "W", (0, 0)), 1.2e-8),
}


def spot(where):
    """``(layer, kind, index)`` as Corrupted's keywords."""
    return dict(zip(("layer", "kind", "index"), where))


def entry(result, where):
    layer, kind, index = where
    (param,) = [p for p in result.params if p.name == f"layers[{layer}].{kind}"]
    (found,) = [e for e in param.entries if e.index == index]
    return found


def plain_central_difference(monkeypatch):
    """gradcheck without the extrapolation."""
    monkeypatch.setattr(matnn.gradient_check, "TRUNCATION_LIMIT", 0)


# -- right gradients pass ---------------------------------------------------------------

@pytest.mark.parametrize("case", CURVED)
def test_a_right_gradient_passes_where_the_loss_curves_sharply(case, monkeypatch):
    activation, loss, arch, where, _ = CURVED[case]
    net, X, y = open_core_case(activation, loss, arch)
    result = gradcheck(net, X, y)
    assert result.ok
    curved = entry(result, where)
    # Only the entry that needed it was extrapolated, and the result is far
    # inside the tolerance, not just inside it.
    assert [e for p in result.params for e in p.entries if e.truncation is not None] == [curved]
    assert curved.abs_error < 1e-10 < 1e-9 < curved.truncation == result.truncation
    assert f"truncation error up to ~{result.truncation:.1e} extrapolated away" in str(result)
    # With the plain central difference, the truncation error reads as a wrong gradient.
    plain_central_difference(monkeypatch)
    before = gradcheck(net, X, y, raise_exception=False)
    assert not before.ok and before.truncation is None
    assert [e.index for p in before.failures for e in p.worst()] == [where[2]]
    assert "truncation" not in before.report()
    # ... by about the estimated truncation error.
    assert entry(before, where).abs_error == pytest.approx(curved.truncation, rel=0.05)


def test_a_check_that_needs_no_extrapolation_does_not_mention_it():
    result = gradcheck(*open_core_case("gelu", "mse", dict(sizes=[3, 3, 1, 2], n=3, seed=1,
                                                           labels=True)))
    assert result.ok and result.truncation is None and result.loss_noise is None
    assert all(e.truncation is None for p in result.params for e in p.entries)
    assert "truncation" not in str(result)


# -- wrong gradients are still caught -----------------------------------------------------

WRONG = {
    "scaled by 1 + 1e-6": lambda g, finest: g * (1 + 1e-6),
    "plus 1e-7": lambda g, finest: g + 1e-7,
    "plus the finest": lambda g, finest: g + finest,
    "minus the finest": lambda g, finest: g - finest,
}


def right_and_plain(case, monkeypatch):
    """The curved entry of the right gradient's check, with and without extrapolation."""
    activation, loss, arch, where, _ = CURVED[case]
    net, X, y = open_core_case(activation, loss, arch)
    right = entry(gradcheck(net, X, y), where)
    plain_central_difference(monkeypatch)
    return right, entry(gradcheck(net, X, y, raise_exception=False), where)


@pytest.mark.parametrize("case", CURVED)
def test_the_finest_errors_tested_are_just_above_what_the_check_resolves(case, monkeypatch):
    right, plain = right_and_plain(case, monkeypatch)
    finest = CURVED[case][-1]
    rtol, atol = 2e-9, 1e-9
    extrapolated = atol + rtol * abs(right.numeric) + right.error_estimate
    at_eps = atol + rtol * abs(plain.numeric) + plain.error_estimate
    truncation = plain.numeric - right.numeric
    assert truncation == pytest.approx(right.truncation) and truncation > 0
    # Below the truncation error, the extrapolated check resolves errors
    # about as fine as the plain one where truncation does not matter ...
    assert extrapolated < 1.5 * at_eps
    # ... but an error on the truncation's side must first mismatch D(eps):
    # between truncation - at_eps and truncation + at_eps it passes the
    # plain difference outright, and no extrapolation is asked for.
    assert 2 * extrapolated < finest
    assert 1.2 * (truncation + at_eps) < finest < 2.5 * (truncation + at_eps)


@pytest.mark.parametrize("wrong", WRONG)
@pytest.mark.parametrize("case", CURVED)
def test_a_slightly_wrong_entry_is_caught_where_the_loss_curves_sharply(case, wrong):
    activation, loss, arch, where, finest = CURVED[case]
    net, X, y = open_core_case(activation, loss, arch, Corrupted, **spot(where),
                               corrupt=lambda g: WRONG[wrong](g, finest))
    with pytest.raises(GradcheckError) as caught:
        gradcheck(net, X, y)
    (failure,) = caught.value.result.failures
    assert failure.name == f"layers[{where[0]}].{where[1]}"
    assert [e.index for e in failure.worst()] == [where[2]]


@pytest.mark.parametrize("case", CURVED)
def test_the_extrapolation_comes_from_the_losses_alone_not_the_gradient_under_test(case):
    # So a wrong gradient cannot move the value it is checked against.
    activation, loss, arch, where, _ = CURVED[case]
    right = entry(gradcheck(*open_core_case(activation, loss, arch)), where)
    for corrupt in (lambda g: -g, lambda g: g * (1 + 1e-6)):
        net, X, y = open_core_case(activation, loss, arch, Corrupted, **spot(where),
                                   corrupt=corrupt)
        wrong = entry(gradcheck(net, X, y, raise_exception=False), where)
        assert wrong.mismatch
        assert (wrong.numeric, wrong.error_estimate, wrong.truncation) == (
            right.numeric, right.error_estimate, right.truncation)


# -- what it costs ----------------------------------------------------------------------

class Counted(Network):
    calls = 0

    def loss(self, X, y):
        Counted.calls += 1
        return super().loss(X, y)


def counted_check(arch, activation="gelu", loss="mse"):
    net, X, y = open_core_case(activation, loss, arch, Counted)
    Counted.calls = 0
    result = gradcheck(net, X, y)
    return result, Counted.calls, net.params.size


def test_only_a_mismatch_pays_for_the_difference_at_half_the_step():
    # A passing check: two losses per parameter, no more.
    result, calls, n = counted_check(dict(sizes=[3, 3, 1, 2], n=3, seed=1, labels=True))
    assert result.ok and result.truncation is None
    assert calls == 2 * n
    # The curved case: the noise measurement, then two losses for its one mismatch.
    result, calls, n = counted_check(CURVED["gelu"][2])
    assert result.ok and result.truncation is not None
    assert calls == 2 * n + 4 * NOISE_SAMPLES + 2


def test_a_step_far_beyond_the_losss_length_scale_is_not_extrapolated():
    # With eps = 0.05 the truncation error is far above the tolerance: the
    # step, not the gradient, is wrong, and the extrapolation's own error need
    # not be small either. The check fails as it did without extrapolation.
    net, X, y = open_core_case(*CURVED["gelu"][:3])
    result = gradcheck(net, X, y, eps=0.05, raise_exception=False)
    assert not result.ok and result.truncation is None


def test_scipy_is_not_extrapolated():
    activation, loss, arch, where, _ = CURVED["gelu"]
    net, X, y = open_core_case(activation, loss, arch, Corrupted, **spot(where),
                               corrupt=lambda g: -g)
    result = gradcheck(net, X, y, method="scipy", raise_exception=False)
    assert not result.ok and result.truncation is None
    assert all(e.truncation is None for p in result.params for e in p.entries)
