"""The fast float32 sigmoid is as accurate as float32 allows, and never warns.

Large float32 arrays take ``1 / (1 + exp(-Z))`` with numpy's SIMD ``exp``;
small ones and every float64 array take ``scipy.special.expit``. Both paths
are held to float64 ``expit`` rounded to float32.
"""

import numpy as np
import pytest
from scipy.special import expit

from matnn import ACTIVATIONS, Network
from matnn.activations import SIGMOID_EXP_MIN_SIZE

sigmoid = ACTIVATIONS["sigmoid"].function
TINY = float(np.finfo(np.float32).tiny)


def errors(Z):
    """The sigmoid of float32 ``Z`` against the exact value: (ulps, absolute error)."""
    got = sigmoid(Z, np.empty_like(Z)).astype(np.float64)
    exact = expit(Z.astype(np.float64))
    ulp = np.spacing(exact.astype(np.float32)).astype(np.float64)
    return np.abs(got - exact) / ulp, np.abs(got - exact)


@pytest.mark.parametrize("size", [SIGMOID_EXP_MIN_SIZE - 1, SIGMOID_EXP_MIN_SIZE, 200_001])
def test_float32_sigmoid_is_within_four_ulps_on_both_paths(size):
    Z = np.linspace(-104, 90, size, dtype=np.float32)
    ulps, absolute = errors(Z)
    # sigmoid(-87) ~ 1.6e-38 is about the smallest normal float32; below it
    # only an absolute error means anything, and it must stay below that.
    normal = Z >= -87
    assert ulps[normal].max() <= 4
    assert absolute[~normal].max() <= TINY


@pytest.mark.parametrize("size", [3, SIGMOID_EXP_MIN_SIZE * 2])
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


def test_a_float32_network_predicts_the_same_in_large_and_small_batches():
    net = Network.from_sizes([2, 600, 1], seed=2, dtype=np.float32)
    X = np.random.default_rng(3).normal(0, 3, (8, 2)).astype(np.float32)
    # 8 x 600 hidden units take the exp path, one row (600) takes expit.
    batch = net.predict(X)
    rows = np.vstack([net.predict(X[i:i + 1]) for i in range(len(X))])
    np.testing.assert_allclose(batch, rows, rtol=2e-6)
