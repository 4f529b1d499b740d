"""The sigmoid is as accurate as its dtype allows, never warns, and ignores array size.

Both dtypes take ``scipy.special.expit``; float32 results are held to float64
``expit`` in ulps, at every size.
"""

import numpy as np
import pytest
from scipy.special import expit

from matnn import ACTIVATIONS, Network

sigmoid = ACTIVATIONS["sigmoid"].forward_into
TINY = float(np.finfo(np.float32).tiny)


def errors(Z):
    """The sigmoid of float32 ``Z`` against the exact value: (ulps, absolute error)."""
    got = sigmoid(Z, np.empty_like(Z)).astype(np.float64)
    exact = expit(Z.astype(np.float64))
    ulp = np.spacing(exact.astype(np.float32)).astype(np.float64)
    return np.abs(got - exact) / ulp, np.abs(got - exact)


@pytest.mark.parametrize("size", [2, 1023, 1024, 200_001])
def test_float32_sigmoid_is_within_four_ulps_at_every_size(size):
    Z = np.linspace(-104, 90, size, dtype=np.float32)
    ulps, absolute = errors(Z)
    # sigmoid(-87) ~ 1.6e-38 is about the smallest normal float32; below it
    # only an absolute error means anything, and it must stay below that.
    normal = Z >= -87
    assert ulps[normal].max() <= 4
    assert absolute[~normal].max() <= TINY


@pytest.mark.parametrize("size", [3, 2048])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_give_finite_results_in_range_without_warnings(size, dtype):
    # pyproject turns numpy warnings into errors, so an overflow would fail here.
    Z = np.resize(np.array([-1e4, -1e3, -89.0, -88.5, 0.0, 88.5, 89.0, 1e3, 1e4], dtype), size)
    A = sigmoid(Z, np.empty_like(Z))
    assert A.dtype == dtype
    assert np.isfinite(A).all() and (A >= 0).all() and (A <= 1).all()
    assert (A[Z >= 1e3] == 1).all() and (A[Z <= -1e3] < 1e-37).all()


def test_in_place_evaluation_matches_a_separate_output():
    Z = np.random.default_rng(0).normal(0, 8, 5000).astype(np.float32)
    separate = sigmoid(Z, np.empty_like(Z))
    assert np.array_equal(sigmoid(Z, Z), separate)


def test_float64_keeps_expit_bit_for_bit():
    Z = np.random.default_rng(1).normal(0, 8, 5000)
    assert np.array_equal(sigmoid(Z, np.empty_like(Z)), expit(Z))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_activation_of_a_row_does_not_depend_on_the_batch_it_travels_in(name, dtype):
    act = ACTIVATIONS[name]
    Z = np.random.default_rng(4).normal(0, 6, (700, 3)).astype(dtype)
    whole = act.forward_into(Z, np.empty_like(Z))
    for rows in (slice(0, 1), slice(5, 6), slice(10, 400)):
        part = Z[rows].copy()
        assert np.array_equal(act.forward_into(part, np.empty_like(part)), whole[rows])


def test_a_float32_network_predicts_the_same_in_large_and_small_batches():
    net = Network.from_sizes([2, 600, 1], seed=2, dtype=np.float32)
    X = np.random.default_rng(3).normal(0, 3, (8, 2)).astype(np.float32)
    batch = net.predict(X)
    rows = np.vstack([net.predict(X[i:i + 1]) for i in range(len(X))])
    # Only BLAS may round differently between one row and eight.
    np.testing.assert_allclose(batch, rows, rtol=2e-6)
