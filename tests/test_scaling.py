"""``matnn.Standardizer``, against scikit-learn's StandardScaler, and kept in a model file."""

import numpy as np
import pytest

import matnn
from matnn import model_file

from test_saving import load_error, write_model

sklearn_preprocessing = pytest.importorskip("sklearn.preprocessing")


def columns(seed=0):
    """Columns of very different sizes, one of them constant."""
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.normal(1000, 300, 40), rng.normal(0, 1e-3, 40),
                            np.full(40, 0.1), rng.integers(0, 2, 40)])


def test_fit_and_transform_agree_with_scikit_learn():
    X = columns()
    ours = matnn.Standardizer.fit(X)
    theirs = sklearn_preprocessing.StandardScaler().fit(X)
    np.testing.assert_allclose(ours.mean, theirs.mean_, rtol=1e-14)
    np.testing.assert_allclose(ours.scale, theirs.scale_, rtol=1e-14)
    new = columns(seed=1)
    np.testing.assert_allclose(ours.transform(new), theirs.transform(new), rtol=1e-12,
                               atol=1e-12)


def test_a_constant_column_gets_scale_1_and_becomes_zeros():
    X = columns()
    scaler = matnn.Standardizer.fit(X)
    assert scaler.scale[2] == 1.0
    np.testing.assert_allclose(scaler.transform(X)[:, 2], 0.0, atol=1e-15)
    # Every other column ends with mean 0 and standard deviation 1.
    Z = scaler.transform(X)[:, [0, 1, 3]]
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-12)


def test_its_numbers_are_read_only_copies():
    mean, scale = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    scaler = matnn.Standardizer(mean, scale)
    mean[0] = 99.0
    assert scaler.mean[0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        scaler.scale[0] = 0.0


@pytest.mark.parametrize("call, error, message", [
    (lambda: matnn.Standardizer([0.0, 1.0], [1.0]), ValueError,
     r"mean and scale must be 1-D of one length >= 1, got shapes \(2,\) and \(1,\)"),
    (lambda: matnn.Standardizer([0.0, 1.0], [1.0, 0.0]), ValueError,
     r"scale must be > 0, got 0.0 for feature 1"),
    (lambda: matnn.Standardizer.fit(np.ones(3)), ValueError, r"X must be 2-D"),
    (lambda: matnn.Standardizer.fit(np.ones((0, 2))), ValueError, r"X has no samples"),
    (lambda: matnn.Standardizer.fit([[1e308, 0], [-1e308, 0]]), ValueError,
     r"X\[:, 0\] holds values too large to standardize"),
    (lambda: matnn.Standardizer.fit([[0.0], [1.0]]).transform([[1.0, 2.0]]), ValueError,
     r"X has 2 columns \(shape \(1, 2\)\) but the standardizer was fit on 1"),
    (lambda: matnn.Standardizer([0.0], [1e-300]).transform([[1e10]]), ValueError,
     r"X\[0, 0\] = 10000000000.0 overflows float64 when standardized"),
    (lambda: matnn.Standardizer.fit([[np.nan]]), ValueError, r"X contains NaN or inf"),
])
def test_bad_input_is_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


# -- in a model file -----------------------------------------------------------


@pytest.fixture
def net():
    return matnn.Network.from_sizes([4, 3, 1], seed=0)


def test_the_scaler_is_saved_and_loaded_bit_for_bit(tmp_path, net):
    scaler = matnn.Standardizer.fit(columns())
    matnn.save(net, tmp_path / "model.npz", scaler=scaler)
    back, back_scaler = matnn.load(tmp_path / "model.npz", with_scaler=True)
    assert back.params.tobytes() == net.params.tobytes()
    assert back_scaler.mean.tobytes() == scaler.mean.tobytes()
    assert back_scaler.scale.tobytes() == scaler.scale.tobytes()
    # Without with_scaler, load returns the network alone, as it always has.
    assert matnn.load(tmp_path / "model.npz").params.tobytes() == net.params.tobytes()
    with np.load(tmp_path / "model.npz") as archive:
        assert int(archive["format_version"]) == 3


def test_a_file_without_a_scaler_loads_with_none(tmp_path, net):
    net.save(tmp_path / "model.npz")
    assert matnn.load(tmp_path / "model.npz", with_scaler=True)[1] is None
    # Format 2, written before scalers existed, reads the same.
    path = write_model(tmp_path / "v2.npz", net, format_version=np.array(2))
    back, scaler = matnn.load(path, with_scaler=True)
    assert scaler is None and back.params.tobytes() == net.params.tobytes()


def test_a_scaler_that_does_not_fit_the_network_is_refused_before_writing(tmp_path, net):
    with pytest.raises(ValueError, match="scaler standardizes 2 features, but the network "
                                         "takes 4 inputs"):
        matnn.save(net, tmp_path / "model.npz", scaler=matnn.Standardizer([0, 0], [1, 1]))
    with pytest.raises(TypeError, match="scaler must be a matnn.Standardizer or None"):
        matnn.save(net, tmp_path / "model.npz", scaler=(np.zeros(4), np.ones(4)))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("changes, drop, message", [
    ({"scaler_mean": np.zeros(4)}, (), "scaler_mean without scaler_scale; a scaler needs both"),
    ({"scaler_mean": np.zeros(3), "scaler_scale": np.ones(3)}, (),
     "array scaler_mean has shape (3,), but the declared sizes need (4,)"),
    ({"scaler_mean": np.zeros(4), "scaler_scale": np.array([1.0, 1.0, 0.0, 1.0])}, (),
     "scaler: scale must be > 0, got 0.0 for feature 2"),
    ({"scaler_mean": np.zeros(4), "scaler_scale": np.ones(4, dtype=np.float32)}, (),
     "array scaler_scale has dtype float32"),
    ({"scaler_mean": np.array([0, 0, np.inf, 0]), "scaler_scale": np.ones(4)}, (),
     "array scaler_mean contains NaN or inf"),
    ({"scaler_mean": np.zeros(4, dtype=object), "scaler_scale": np.ones(4)}, (),
     "array scaler_mean holds pickled Python objects"),
    # Format 2 had no scaler: one in such a file is not part of the format.
    ({"format_version": np.array(2), "scaler_mean": np.zeros(4), "scaler_scale": np.ones(4)},
     (), "unexpected arrays 'scaler_mean', 'scaler_scale'"),
])
def test_a_damaged_scaler_is_named(tmp_path, net, changes, drop, message):
    path = write_model(tmp_path / "model.npz", net, drop=drop, **changes)
    assert message in load_error(path)


def test_with_scaler_must_be_a_bool(tmp_path, net):
    net.save(tmp_path / "model.npz")
    with pytest.raises(TypeError, match="with_scaler must be True or False"):
        matnn.load(tmp_path / "model.npz", with_scaler=1)


def test_the_documented_format_lists_the_scaler():
    assert "``scaler_mean``, ``scaler_scale``" in model_file.__doc__
