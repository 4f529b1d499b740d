"""The digits split, checked against scikit-learn's own copy of the data set."""

import sys

import numpy as np
import pytest

from matnn import digits

datasets = pytest.importorskip("sklearn.datasets")


def rows_sorted(X, y):
    """The (features, label) rows as one array, in lexicographic order."""
    table = np.column_stack([X, y])
    return table[np.lexsort(table.T[::-1])]


def test_sizes_and_shapes_are_60_20_20():
    split = digits.load(0)
    assert [a.shape for a in split] == [(1077, 64), (1077,), (360, 64), (360,), (360, 64), (360,)]
    assert split.y_train.dtype == np.int64
    assert split.X_train.dtype == np.float64
    assert all(a.flags.c_contiguous for a in split)


def test_the_three_parts_are_the_whole_data_set_scaled_by_16_each_sample_once():
    split = digits.load(0)
    X = np.concatenate([split.X_train, split.X_val, split.X_test])
    y = np.concatenate([split.y_train, split.y_val, split.y_test])
    assert X.min() == 0.0 and X.max() == 1.0
    # Some images occur twice in the data set, so the parts are compared as
    # a multiset of rows: every sample lands in exactly one part.
    whole = datasets.load_digits()
    np.testing.assert_array_equal(rows_sorted(X * 16, y), rows_sorted(whole.data, whole.target))


def test_every_part_holds_each_digit_in_the_whole_sets_proportion():
    split = digits.load(0)
    overall = np.bincount(datasets.load_digits().target) / digits.N_SAMPLES
    for y in (split.y_train, split.y_val, split.y_test):
        counts = np.bincount(y, minlength=10)
        # Rounding each class's share costs under one sample per draw; the
        # training part is what two draws leave, so under two.
        assert np.abs(counts - overall * y.size).max() < 2


def test_the_same_seed_gives_the_same_split_and_another_seed_another():
    a, b, c = digits.load(7), digits.load(7), digits.load(8)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.y_test, c.y_test)


def test_float32_features_are_the_float64_ones_exactly():
    f64, f32 = digits.load(0), digits.load(0, dtype=np.float32)
    assert f32.X_test.dtype == np.float32
    np.testing.assert_array_equal(f32.X_test, f64.X_test)
    np.testing.assert_array_equal(f32.y_test, f64.y_test)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"seed": -1}, ValueError, "seed must be >= 0"),
    ({"seed": 1.5}, TypeError, "seed must be an integer"),
    ({"dtype": np.int32}, TypeError, "dtype must be float32 or float64"),
])
def test_bad_arguments_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        digits.load(**kwargs)


def test_without_scikit_learn_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError,
                       match=r"^the digits data set comes with scikit-learn: "
                             r"pip install 'matnn\[examples\]'$"):
        digits.load(0)
