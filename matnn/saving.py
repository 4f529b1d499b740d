"""Saving a trained network to a file, and loading it back safely.

:func:`save` writes a network (and the :class:`~matnn.Standardizer` of its
inputs, if any) atomically to an ordinary ``.npz`` archive of plain arrays;
:func:`load` reads it back without unpickling or executing anything. The
format, version by version, is described in :mod:`matnn.model_file`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, overload

from . import model_file
from ._typing import StrPath
from .network import Network

if TYPE_CHECKING:
    from .activations import Activation
    from .losses import Loss
    from .scaling import Standardizer

__all__ = ["save", "load"]


def save(net: Network, path: StrPath, *, scaler: Standardizer | None = None) -> None:
    """Write ``net`` (and the standardizer of its inputs, if any) to ``path`` atomically.

    The archive is written to a temporary file ``.matnn-<8 hex digits>.tmp``
    in the same directory, flushed and fsynced, then moved over ``path``
    with ``os.replace``. If anything fails (or the process is interrupted)
    before that, ``path`` is left as it was and the temporary file is
    removed.

    Parameters
    ----------
    net : Network
    path : str or os.PathLike
        Written exactly as given; no ``.npz`` suffix is added. If ``path``
        is a symbolic link, the file it points to is replaced and the link
        stays. If ``path`` is an existing file, the new one gets its
        permission bits; otherwise the umask decides, as for any new file.
    scaler : Standardizer, optional
        The standardization the network's inputs go through, with
        ``scaler.n_features == net.n_in``; ``load(path, with_scaler=True)``
        gives it back.

    Raises
    ------
    ValueError
        If a parameter is NaN or inf (such a file could not be loaded). The
        message names the first such entry, e.g. ``layers[0].W[1, 0]``.
        If ``scaler`` has another number of features than the network's
        inputs. Nothing is written.
    OSError
        If the file cannot be written. When ``os.replace`` fails, its error
        is the one raised, even if removing the temporary file fails too.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a matnn.Network, got {type(net).__name__}")
    model_file.write(net, path, scaler=scaler)


@overload
def load(
    path: StrPath, custom: dict[str, Activation | Loss] | None = None,
    *, with_scaler: Literal[False] = ...,
) -> Network: ...
@overload
def load(
    path: StrPath, custom: dict[str, Activation | Loss] | None = None,
    *, with_scaler: Literal[True],
) -> tuple[Network, Standardizer | None]: ...
@overload
def load(
    path: StrPath, custom: dict[str, Activation | Loss] | None = None, *, with_scaler: bool,
) -> Network | tuple[Network, Standardizer | None]: ...
def load(
    path: StrPath, custom: dict[str, Activation | Loss] | None = None, *, with_scaler: bool = False,
) -> Network | tuple[Network, Standardizer | None]:
    """Read a network written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike
    custom : dict of {str: Activation or Loss}, optional
        The user-defined activations and losses the file names, by name,
        e.g. ``{"cube": matnn.Activation("cube", ...)}``.
    with_scaler : bool
        Also return the :class:`~matnn.Standardizer` saved with the network.

    Returns
    -------
    Network
        With the saved sizes, activations, dtype and bit-identical
        parameters.
    Standardizer or None
        Only with ``with_scaler=True``: the standardizer saved with the
        network, bit-identical, or None if there is none (as in every file
        of format 1 or 2). Predict with
        ``net.predict(scaler.transform(X))``.

    Raises
    ------
    FileNotFoundError, OSError
        If the file cannot be read at all.
    ValueError
        If it names an activation or loss that is neither built in nor in
        ``custom`` (the message lists every such name and how to pass
        them). If it is not a regular file (a directory, FIFO, device or socket),
        or not a matnn model file of a supported version: truncated,
        corrupted, a foreign archive, one holding pickled objects, or arrays
        whose shape, dtype or values (NaN, inf) do not fit the declared
        architecture. The message names the file.

    Notes
    -----
    Safe to call from several threads at once: calls share nothing, and
    the process's warning filters are never touched.
    """
    if not isinstance(with_scaler, bool):
        raise TypeError(f"with_scaler must be True or False, got {with_scaler!r}")
    layers, loss, scaler = model_file.read(path, custom)
    try:
        net = Network(layers, loss=loss)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return (net, scaler) if with_scaler else net
