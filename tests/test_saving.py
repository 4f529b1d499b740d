"""Saving and loading networks: exact round trips, atomic writes, hostile files."""

import io
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import matnn
from matnn import data, model_file, saving, scalar

ARCHITECTURES = [
    ([2, 2, 1], "sigmoid"),
    ([1, 1], "identity"),
    ([3, 5, 4, 2], ["tanh", "relu", "identity"]),
    ([4, 8, 3], "relu"),
]


def model_arrays(net):
    """The arrays of a valid model file for ``net``, as documented in matnn.saving."""
    arrays = {
        "format_version": np.array(model_file.FORMAT_VERSION),
        "sizes": np.array(net.sizes),
        "activations": np.array(net.activations),
        "dtype": np.array(net.dtype.name),
        "loss": np.array(net.loss_fn.name),
    }
    for l, layer in enumerate(net.layers, start=1):
        arrays[f"W{l}"] = layer.W.copy()
        arrays[f"b{l}"] = layer.b.copy()
    return arrays


@pytest.fixture
def net():
    return matnn.Network.from_sizes([2, 3, 1], seed=0)


# -- round trips -------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sizes, activation", ARCHITECTURES)
def test_round_trip_is_bit_exact(tmp_path, sizes, activation, dtype):
    net = matnn.Network.from_sizes(sizes, activation, seed=7, dtype=dtype)
    # Give the biases non-zero values so they are really compared.
    net.params[...] = np.random.default_rng(1).normal(size=net.params.size)
    path = tmp_path / "model.npz"
    net.save(path)
    loaded = matnn.load(path)
    assert loaded.sizes == net.sizes
    assert loaded.activations == net.activations
    assert loaded.dtype == net.dtype
    assert loaded.params.dtype == net.params.dtype
    np.testing.assert_array_equal(loaded.params, net.params)
    X = np.random.default_rng(2).normal(size=(5, net.n_in)).astype(dtype)
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))


def test_the_documents_trained_network_survives_a_round_trip(tmp_path):
    np.random.seed(0)
    doc_net = scalar.OurNeuralNetwork()
    net = scalar.to_network(doc_net)
    net.fit(data.X, data.y, epochs=50, learning_rate=0.1, batch_size=1, shuffle=False)
    path = tmp_path / "doc.npz"
    saving.save(net, path)
    again = scalar.from_network(matnn.load(path))
    assert again.params() == scalar.from_network(net).params()


def test_the_path_is_used_exactly_as_given(tmp_path, net):
    path = tmp_path / "model"
    net.save(str(path))
    assert sorted(os.listdir(tmp_path)) == ["model"]
    np.testing.assert_array_equal(matnn.load(str(path)).params, net.params)


def test_saving_again_replaces_the_old_model(tmp_path, net):
    path = tmp_path / "model.npz"
    net.save(path)
    other = matnn.Network.from_sizes([2, 3, 1], seed=99)
    other.save(path)
    np.testing.assert_array_equal(matnn.load(path).params, other.params)
    assert os.listdir(tmp_path) == ["model.npz"]


def test_save_refuses_something_that_is_not_a_network(tmp_path):
    with pytest.raises(TypeError, match="matnn.Network"):
        saving.save({"W1": np.eye(2)}, tmp_path / "model.npz")


def test_a_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        matnn.load(tmp_path / "nothing-here.npz")


# -- atomicity ---------------------------------------------------------------


def test_a_failed_replace_leaves_the_old_file_and_no_temp_file(tmp_path, net, monkeypatch):
    path = tmp_path / "model.npz"
    net.save(path)
    before = path.read_bytes()

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(model_file.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        matnn.Network.from_sizes([2, 3, 1], seed=5).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


def test_an_interrupted_write_leaves_the_old_file_and_no_temp_file(tmp_path, net, monkeypatch):
    path = tmp_path / "model.npz"
    net.save(path)
    before = path.read_bytes()

    def write_half_then_interrupt(f, **arrays):
        f.write(before[: len(before) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(model_file.np, "savez", write_half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        matnn.Network.from_sizes([2, 3, 1], seed=5).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]
    np.testing.assert_array_equal(matnn.load(path).params, net.params)


def test_saving_into_a_missing_directory_fails_and_creates_nothing(tmp_path, net):
    with pytest.raises(FileNotFoundError):
        net.save(tmp_path / "no-such-dir" / "model.npz")
    assert os.listdir(tmp_path) == []


def test_saving_over_a_directory_fails_and_cleans_up(tmp_path, net):
    (tmp_path / "model.npz").mkdir()
    with pytest.raises(OSError):
        net.save(tmp_path / "model.npz")
    assert os.listdir(tmp_path) == ["model.npz"]
    assert (tmp_path / "model.npz").is_dir()


# -- bad files ---------------------------------------------------------------


def load_error(path):
    """The ValueError message of loading ``path``; it must name the file."""
    with pytest.raises(ValueError) as info:
        matnn.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    return message


def write_model(path, net, drop=(), **changes):
    arrays = model_arrays(net)
    arrays.update(changes)
    for key in drop:
        del arrays[key]
    np.savez(path, **arrays)
    return path


def test_a_truncated_file(tmp_path, net):
    path = tmp_path / "model.npz"
    net.save(path)
    path.write_bytes(path.read_bytes()[:-300])
    assert "corrupted or truncated" in load_error(path)


def test_an_empty_file(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"")
    assert "empty" in load_error(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(np.random.default_rng(0).bytes(500))
    assert "not an .npz archive" in load_error(path)


def test_a_foreign_npz_archive(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.arange(3.0), labels=np.arange(3))
    message = load_error(path)
    assert "not a matnn model" in message and "'weights'" in message


def test_a_single_npy_array(tmp_path):
    path = tmp_path / "model.npz"
    with open(path, "wb") as f:
        np.save(f, np.arange(4.0))
    assert "single .npy array" in load_error(path)


def test_a_pickle_of_the_network(tmp_path, net):
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps(net))
    assert "not an .npz archive" in load_error(path)


class _Trap:
    """Unpickling this would create the file ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_object_array_is_refused_and_never_run(tmp_path, net):
    marker = tmp_path / "unpickled"
    trap = np.empty(1, dtype=object)
    trap[0] = _Trap(marker)
    path = write_model(tmp_path / "model.npz", net, W1=trap)
    assert "pickled Python objects" in load_error(path)
    assert not marker.exists()


def test_object_metadata_is_refused(tmp_path, net):
    path = write_model(tmp_path / "model.npz", net,
                       activations=np.array(["sigmoid", "sigmoid"], dtype=object))
    assert "array activations holds pickled Python objects" in load_error(path)


def test_an_unsupported_format_version(tmp_path, net):
    path = write_model(tmp_path / "model.npz", net, format_version=np.array(4))
    assert "format version 4 is not supported" in load_error(path)


def test_a_weight_of_the_wrong_shape(tmp_path, net):
    path = write_model(tmp_path / "model.npz", net, W1=np.ones((2, 3)))
    assert "array W1 has shape (2, 3), but the declared sizes need (3, 2)" in load_error(path)


def test_a_bias_of_the_wrong_shape(tmp_path, net):
    path = write_model(tmp_path / "model.npz", net, b2=np.zeros((1, 1)))
    assert "array b2 has shape (1, 1)" in load_error(path)


def test_a_weight_of_the_wrong_dtype(tmp_path, net):
    path = write_model(tmp_path / "model.npz", net, W2=net.layers[1].W.astype(np.float32))
    assert "array W2 has dtype float32, but the model declares float64" in load_error(path)


def test_integer_weights(tmp_path, net):
    path = write_model(tmp_path / "model.npz", net, b1=np.zeros(3, dtype=np.int64))
    assert "array b1 has dtype int64" in load_error(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_parameter(tmp_path, net, bad):
    W2 = net.layers[1].W.copy()
    W2[0, 2] = bad
    path = write_model(tmp_path / "model.npz", net, W2=W2)
    assert "array W2 contains NaN or inf (first at index (0, 2))" in load_error(path)


def test_an_unknown_activation(tmp_path, net):
    path = write_model(tmp_path / "model.npz", net, activations=np.array(["sigmoid", "swish"]))
    assert "unknown activation 'swish'" in load_error(path)


def test_too_few_activations(tmp_path, net):
    path = write_model(tmp_path / "model.npz", net, activations=np.array(["sigmoid"]))
    assert "1 activations for 2 layers" in load_error(path)


def test_an_unsupported_dtype(tmp_path, net):
    path = write_model(tmp_path / "model.npz", net, dtype=np.array("float16"))
    assert "dtype must be 'float32' or 'float64', got 'float16'" in load_error(path)


@pytest.mark.parametrize("sizes", [[3], [2, 0, 1], [[2, 3, 1]]])
def test_impossible_sizes(tmp_path, net, sizes):
    path = write_model(tmp_path / "model.npz", net, sizes=np.array(sizes))
    assert "sizes" in load_error(path)


@pytest.mark.parametrize("key", ["format_version", "sizes", "activations", "dtype", "loss"])
def test_missing_metadata(tmp_path, net, key):
    path = write_model(tmp_path / "model.npz", net, drop=[key])
    assert f"missing {key}" in load_error(path)


def test_a_missing_layer_array(tmp_path, net):
    path = write_model(tmp_path / "model.npz", net, drop=["b2"])
    assert "missing arrays b2 for sizes (2, 3, 1)" in load_error(path)


def test_an_extra_array(tmp_path, net):
    path = write_model(tmp_path / "model.npz", net, W3=np.ones((1, 1)))
    assert "unexpected arrays 'W3'" in load_error(path)


def test_a_compressed_archive(tmp_path, net):
    path = tmp_path / "model.npz"
    np.savez_compressed(path, **model_arrays(net))
    assert "compressed" in load_error(path)


def test_a_header_that_lies_about_its_size(tmp_path, net):
    # A shape far larger than the stored data (8 TB of float64) must be caught
    # from the header, before any memory is allocated for it; the archive is
    # otherwise valid, CRCs included.
    members = {}
    for key, arr in model_arrays(net).items():
        buf = io.BytesIO()
        np.save(buf, arr)
        members[key] = buf.getvalue()
    lie = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        lie, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    members["W1"] = lie.getvalue() + net.layers[0].W.tobytes()
    path = tmp_path / "model.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for key, content in members.items():
            archive.writestr(f"{key}.npy", content)
    assert "array W1 is truncated or corrupted: its header declares shape (1000000000000,)" in (
        load_error(path)
    )


# -- fuzzing -----------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def valid_bytes(fuzz_dir):
    path = fuzz_dir / "valid.npz"
    matnn.Network.from_sizes([2, 3, 1], seed=0).save(path)
    return path.read_bytes()


@settings(max_examples=150)
@given(raw=st.one_of(st.binary(max_size=600), st.binary(max_size=600).map(lambda b: b"PK\x03\x04" + b)))
def test_random_bytes_only_ever_give_a_value_error(fuzz_dir, raw):
    path = fuzz_dir / "random.npz"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match="random.npz: "):
        matnn.load(path)


@settings(max_examples=300)
@given(
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
    cut=st.one_of(st.none(), st.integers(0, 10**6)),
)
def test_a_damaged_model_loads_intact_or_gives_a_value_error(fuzz_dir, valid_bytes, edits, cut):
    """Flipped and truncated bytes: either the CRCs and checks let the very
    same network through (a harmless byte such as a timestamp changed), or
    loading fails with a ValueError. Nothing else may escape."""
    raw = bytearray(valid_bytes)
    for position, value in edits:
        raw[position % len(raw)] = value
    if cut is not None:
        raw = raw[: cut % len(raw)]
    path = fuzz_dir / "damaged.npz"
    path.write_bytes(bytes(raw))
    try:
        loaded = matnn.load(path)
    except ValueError as exc:
        assert str(exc).startswith(f"{path}: ")
        assert "\n" not in str(exc)
    else:
        original = matnn.load(fuzz_dir / "valid.npz")
        assert loaded.sizes == original.sizes
        assert loaded.activations == original.activations
        np.testing.assert_array_equal(loaded.params, original.params)


# -- threads -----------------------------------------------------------------


def test_concurrent_loads_leave_the_warning_filters_alone(tmp_path, net, race):
    """Loads racing in many threads (a tiny switch interval interleaves them
    as much as possible) must not change the warning filters: a load that
    saved, changed and restored them would leave another thread's 'error'
    filter behind, turning every later warning in the process into an
    exception."""
    import warnings

    good = tmp_path / "model.npz"
    net.save(good)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(good.read_bytes()[:-100])
    n_threads, rounds = 16, 20
    failures = []

    def work():
        for _ in range(rounds):
            try:
                np.testing.assert_array_equal(matnn.load(good).params, net.params)
                with pytest.raises(ValueError):
                    matnn.load(bad)
            except BaseException as exc:  # reported below, not lost in the thread
                failures.append(exc)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        before = list(warnings.filters)
        race(work, [()] * n_threads)
        assert failures == []
        assert warnings.filters == before
        warnings.warn("still only a warning", RuntimeWarning)
    assert [str(w.message) for w in caught] == ["still only a warning"]


# -- special files -----------------------------------------------------------


def test_a_fifo_is_refused_at_once(tmp_path):
    """Opening a FIFO without a writer blocks forever unless done with
    O_NONBLOCK; the load runs in a thread so that a regression fails here
    instead of hanging the suite."""
    import threading

    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    outcome = []

    def attempt():
        try:
            matnn.load(fifo)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout=10)
    if thread.is_alive():
        # Release the blocked open() before failing.
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("load blocked on a FIFO")
    (error,) = outcome
    assert isinstance(error, ValueError)
    assert str(error) == f"{fifo}: not a regular file but a FIFO (named pipe); " \
                         "a matnn model is a file written by save()"


def test_a_device_is_refused_without_reading_it(tmp_path):
    """/dev/zero never ends: reading it without a size bound would exhaust
    memory. The child process runs with 2 GB of address space, so even a
    regression ends quickly, with a MemoryError rather than a stuck machine."""
    import subprocess
    import sys

    code = (
        "import resource, matnn\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "try:\n"
        "    matnn.load('/dev/zero')\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "/dev/zero: not a regular file but a character device; " \
                          "a matnn model is a file written by save()\n"


def test_a_directory_is_refused(tmp_path):
    assert "not a regular file but a directory" in load_error(tmp_path)


# -- saving: refusals, names, links, modes -----------------------------------


@pytest.mark.parametrize("layer, kind, index, bad", [
    (0, "W", (1, 0), np.nan),
    (1, "b", (0,), -np.inf),
])
def test_a_non_finite_parameter_is_refused_before_writing(tmp_path, net, layer, kind, index, bad):
    getattr(net.layers[layer], kind)[index] = bad
    path = tmp_path / "model.npz"
    with pytest.raises(ValueError) as info:
        net.save(path)
    entry = f"layers[{layer}].{kind}[{', '.join(map(str, index))}]"
    assert f"{entry} is {bad}" in str(info.value)
    assert os.listdir(tmp_path) == []


def test_a_file_name_of_230_bytes_can_be_saved(tmp_path, net):
    # Most filesystems allow 255 bytes per name; the temporary name must fit
    # wherever the target's does.
    path = tmp_path / ("m" * 226 + ".npz")
    net.save(path)
    np.testing.assert_array_equal(matnn.load(path).params, net.params)
    assert os.listdir(tmp_path) == [path.name]


def test_the_replace_error_is_reported_when_clean_up_fails_too(tmp_path, net, monkeypatch):
    def refuse_replace(src, dst):
        raise OSError("disk full")

    def refuse_unlink(path):
        raise PermissionError("clean-up refused")

    monkeypatch.setattr(model_file.os, "replace", refuse_replace)
    monkeypatch.setattr(model_file.os, "unlink", refuse_unlink)
    with pytest.raises(OSError) as info:
        net.save(tmp_path / "model.npz")
    monkeypatch.undo()
    assert str(info.value) == "disk full"
    assert not (tmp_path / "model.npz").exists()


def test_saving_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path, net):
    target = tmp_path / "models" / "v1.npz"
    target.parent.mkdir()
    matnn.Network.from_sizes([2, 3, 1], seed=99).save(target)
    link = tmp_path / "current.npz"
    link.symlink_to(target)
    net.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    np.testing.assert_array_equal(matnn.load(target).params, net.params)
    assert sorted(os.listdir(target.parent)) == ["v1.npz"]


def test_saving_over_a_file_keeps_its_permission_bits(tmp_path, net):
    path = tmp_path / "model.npz"
    net.save(path)
    os.chmod(path, 0o640)
    net.save(path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_new_file_gets_the_umask_default(tmp_path, net):
    old = os.umask(0o027)
    try:
        net.save(tmp_path / "model.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "model.npz").stat().st_mode & 0o777 == 0o666 & ~0o027


# -- names: built-in and user-defined activations and losses -------------------

CUBE = matnn.Activation("cube", lambda Z: Z ** 3, lambda Z: 3 * Z ** 2)
LOG_COSH = matnn.Loss(
    "log_cosh",
    lambda Y, P: float(np.mean(np.sum(np.log(np.cosh(P - Y)), axis=1))),
    lambda Y, P: np.tanh(P - Y) / len(Y),
)


def test_a_file_written_by_version_1_loads_with_the_lessons_mse(tmp_path, net):
    # matnn 0.1.0 wrote format 1, which had no loss array.
    path = write_model(tmp_path / "model.npz", net, drop=["loss"], format_version=np.array(1))
    back = matnn.load(path)
    assert back.loss_fn is matnn.LOSSES["mse"]
    assert back.params.tobytes() == net.params.tobytes()


def test_a_classifier_keeps_its_loss_and_softmax(tmp_path):
    net = matnn.Network.from_sizes([4, 5, 3], ["tanh", "softmax"], seed=1, loss="cross_entropy")
    net.save(tmp_path / "model.npz")
    back = matnn.load(tmp_path / "model.npz")
    assert back.loss_fn is matnn.LOSSES["cross_entropy"] and back.activations == ("tanh", "softmax")
    X = np.random.default_rng(2).normal(size=(6, 4))
    assert np.array_equal(back.predict(X), net.predict(X))
    assert back.loss(X, [0, 1, 2, 0, 1, 2]) == net.loss(X, [0, 1, 2, 0, 1, 2])


def test_user_defined_activation_and_loss_load_in_another_process(tmp_path):
    net = matnn.Network.from_sizes([2, 3, 1], [CUBE, "identity"], seed=3, loss=LOG_COSH)
    path = tmp_path / "model.npz"
    net.save(path)
    X = [[0.5, -1.0], [1.0, 2.0]]
    program = (
        "import sys, numpy as np, matnn\n"
        "cube = matnn.Activation('cube', lambda Z: Z ** 3, lambda Z: 3 * Z ** 2)\n"
        "log_cosh = matnn.Loss('log_cosh', lambda Y, P: float(np.mean(np.sum(np.log(np.cosh(P - Y)), axis=1))),"
        " lambda Y, P: np.tanh(P - Y) / len(Y))\n"
        "net = matnn.load(sys.argv[1], custom={'cube': cube, 'log_cosh': log_cosh})\n"
        f"print(net.predict({X}).tobytes().hex(), net.loss({X}, [1.0, 0.0]).hex(), net.loss_fn.name)\n"
    )
    out = subprocess.run([sys.executable, "-c", program, str(path)], capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == [net.predict(X).tobytes().hex(), net.loss(X, [1.0, 0.0]).hex(), "log_cosh"]


def test_unknown_names_are_all_named_with_how_to_pass_them(tmp_path):
    net = matnn.Network.from_sizes([2, 3, 1], [CUBE, "identity"], seed=3, loss=LOG_COSH)
    net.save(tmp_path / "model.npz")
    message = load_error(tmp_path / "model.npz")
    assert "unknown activation 'cube' (layer 0), loss 'log_cosh'" in message
    assert "custom={name:" in message
    half = matnn.load(tmp_path / "model.npz", custom={"cube": CUBE, "log_cosh": LOG_COSH})
    assert half.activations == ("cube", "identity")


def test_a_user_activation_with_a_built_in_name_is_refused_at_save(tmp_path):
    fake = matnn.Activation("sigmoid", np.tanh, lambda Z: 1 - np.tanh(Z) ** 2)
    net = matnn.Network.from_sizes([2, 2, 1], [fake, "sigmoid"], seed=0)
    with pytest.raises(ValueError, match=r"layers\[0\] has a user-defined activation named 'sigmoid'"):
        net.save(tmp_path / "model.npz")
    assert not (tmp_path / "model.npz").exists()


def test_custom_is_checked(tmp_path, net):
    net.save(tmp_path / "model.npz")
    with pytest.raises(TypeError, match=r"custom\['cube'\] must be a matnn.Activation or matnn.Loss"):
        matnn.load(tmp_path / "model.npz", custom={"cube": lambda z: z})
    with pytest.raises(ValueError, match="'tanh' is a built-in's name"):
        matnn.load(tmp_path / "model.npz", custom={"tanh": CUBE})
    with pytest.raises(TypeError, match="custom must be a dict"):
        matnn.load(tmp_path / "model.npz", custom=[CUBE])
