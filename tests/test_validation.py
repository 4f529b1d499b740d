"""Checks at the API boundary: masked arrays and float32 overflow.

The suite turns warnings into errors, so these tests also show that no
RuntimeWarning escapes the float32 conversion."""

import numpy as np
import pytest

import matnn


@pytest.fixture
def net32():
    return matnn.Network.from_sizes([2, 2, 1], seed=0, dtype=np.float32)


def test_a_masked_array_is_refused_rather_than_its_mask_ignored(net32):
    X = np.ma.masked_array([[1.0, 2.0], [3.0, 1e9]], mask=[[False, False], [False, True]])
    with pytest.raises(TypeError, match="X is a masked array; matnn would ignore its mask"):
        net32.predict(X)
    with pytest.raises(TypeError, match="y is a masked array"):
        net32.loss([[1.0, 2.0]], np.ma.masked_array([1.0], mask=[True]))
    with pytest.raises(TypeError, match="W is a masked array"):
        matnn.Dense(np.ma.masked_array(np.ones((1, 2))), np.zeros(1), "sigmoid")


@pytest.mark.parametrize("value", [1e39, -1e39, 3.5e38, np.finfo(np.float64).max])
def test_finite_values_beyond_float32_are_an_overflow_not_nan_or_inf(net32, value):
    # 3.4028235e38 is float32's largest number; each value lies beyond it.
    assert abs(value) > float(np.finfo(np.float32).max)
    with pytest.raises(ValueError) as info:
        net32.predict([[0.0, 1.0], [2.0, value]])
    message = str(info.value)
    assert message.startswith(f"X overflows float32 (first at index (1, 1): {value}")
    assert "NaN" not in message


def test_the_largest_float32_itself_is_accepted(net32):
    top = float(np.finfo(np.float32).max)
    assert np.isfinite(net32.predict([[top, -top]])).all()


def test_real_nan_and_inf_are_still_named_as_such(net32):
    with pytest.raises(ValueError, match=r"X contains NaN or inf \(first at index \(0, 1\): inf\)"):
        net32.predict([[0.0, np.inf]])
    # The first bad entry decides the message.
    with pytest.raises(ValueError, match=r"X overflows float32 \(first at index \(0, 0\)"):
        net32.predict([[1e39, np.nan]])
