"""The bridge to PyTorch: a network as a ``torch.nn.Sequential``, and back.

matnn stores a layer's weights as ``W`` of shape (n_out, n_in), the layout
of ``torch.nn.Linear.weight``, so a layer becomes a ``Linear`` whose
``weight`` is ``W`` and whose ``bias`` is ``b``, followed by its activation
module (none for the identity):

=========== ===================================
matnn       torch
=========== ===================================
sigmoid     ``Sigmoid()``
tanh        ``Tanh()``
relu        ``ReLU()``
identity    nothing (or ``Identity()`` going back)
leaky_relu  ``LeakyReLU(0.01)``
softplus    ``Softplus()`` (beta 1, threshold 20)
gelu        ``GELU()`` (exact, ``approximate="none"``)
silu        ``SiLU()``
softmax     ``Softmax(dim=1)`` (or ``dim=-1`` going back)
=========== ===================================

torch's ``Softplus`` returns ``x`` itself above its threshold 20, where the
exact softplus is larger by less than 2.1e-9. torch is optional: it is
imported only when one of these functions runs.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Callable

import numpy as np

from .activations import ACTIVATIONS

if TYPE_CHECKING:
    import torch

    from .losses import Loss
    from .network import Network

__all__ = ["to_torch", "from_torch"]

_INSTALL_HINT = "pip install torch"


def _import_torch() -> ModuleType:
    try:
        import torch
    except ImportError:
        raise ImportError(f"the PyTorch bridge needs torch: {_INSTALL_HINT}") from None
    return torch


def _torch_modules(nn: ModuleType) -> dict[str, Callable[[], torch.nn.Module] | None]:
    """matnn activation name -> a function making its torch module (None: no module)."""
    return {
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "relu": nn.ReLU,
        "identity": None,
        "leaky_relu": lambda: nn.LeakyReLU(0.01),
        "softplus": nn.Softplus,
        "gelu": nn.GELU,
        "silu": nn.SiLU,
        "softmax": lambda: nn.Softmax(dim=1),
    }


def _matnn_name(module: torch.nn.Module, nn: ModuleType) -> tuple[str | None, str | None]:
    """The matnn activation name of a torch module, or None when it has none.

    Returns ``(name, problem)``: ``problem`` says why a module of a supported
    type still cannot be read (a setting matnn's activation does not have).
    Types are compared exactly, since a subclass may change ``forward``.
    """
    plain = {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu",
             nn.SiLU: "silu", nn.Identity: "identity"}
    kind = type(module)
    if kind in plain:
        return plain[kind], None
    if kind is nn.LeakyReLU:
        ok = module.negative_slope == 0.01
        return "leaky_relu", None if ok else (
            f"negative_slope={module.negative_slope}, but matnn's leaky_relu has slope 0.01")
    if kind is nn.Softplus:
        ok = module.beta == 1 and module.threshold == 20
        return "softplus", None if ok else (
            f"beta={module.beta}, threshold={module.threshold}, but matnn's softplus "
            "has beta 1 and torch's default threshold 20")
    if kind is nn.GELU:
        ok = module.approximate == "none"
        return "gelu", None if ok else (
            f"approximate={module.approximate!r}, but matnn's gelu is the exact "
            "(erf) one, approximate='none'")
    if kind is nn.Softmax:
        ok = module.dim in (1, -1)
        return "softmax", None if ok else (
            f"dim={module.dim}, but matnn's softmax runs over each row, dim=1 or -1")
    return None, None


def to_torch(net: Network) -> torch.nn.Sequential:
    """An equivalent ``torch.nn.Sequential`` of ``net``.

    Each layer becomes a ``torch.nn.Linear`` holding a copy of its ``W`` and
    ``b``, in the network's dtype, then its activation's module (see the
    module's table). The result computes ``net.predict`` and, through
    autograd, the same gradients; later changes to one do not affect the
    other.

    Parameters
    ----------
    net : Network

    Returns
    -------
    torch.nn.Sequential
        Maps a tensor of shape (n_samples, n_in) to (n_samples, n_out).

    Raises
    ------
    ImportError
        When torch is not installed.
    ValueError
        When an activation is not a built-in one of the table: a user-defined
        :class:`~matnn.Activation` is refused, even under a built-in's name.
    """
    torch = _import_torch()
    nn = torch.nn
    from .network import Network

    if not isinstance(net, Network):
        raise TypeError(f"net must be a matnn Network, got {type(net).__name__}")
    makers = _torch_modules(nn)
    dtype = torch.float32 if net.dtype == np.float32 else torch.float64
    modules = []
    for i, layer in enumerate(net.layers):
        name = layer.activation.name
        if name not in makers:
            raise ValueError(
                f"layer {i}'s activation {name!r} has no torch equivalent; "
                f"to_torch knows {sorted(makers)}"
            )
        if layer.activation is not ACTIVATIONS[name]:
            raise ValueError(
                f"layer {i}'s activation is a user-defined Activation named {name!r}, not "
                f"the built-in {name}; to_torch exports only the built-in activations of "
                "its table, by what they are, not by name"
            )
        # skip_init: no random initialisation, so torch's global RNG is untouched.
        linear = nn.utils.skip_init(nn.Linear, layer.n_in, layer.n_out, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.W))
            linear.bias.copy_(torch.from_numpy(layer.b))
        modules.append(linear)
        make = makers[name]
        if make is not None:
            modules.append(make())
    return nn.Sequential(*modules)


def from_torch(module: torch.nn.Module, loss: str | Loss = "mse") -> Network:
    """A matnn Network equivalent to a ``torch.nn.Sequential``.

    The Sequential must be ``Linear`` layers, each followed by at most one
    supported activation module (see the module's table); a ``Linear`` with
    no activation after it gets the identity, and one without a bias gets
    zero biases. The weights are copied, in the Linear layers' dtype
    (float32 or float64, the same for all).

    Parameters
    ----------
    module : torch.nn.Sequential
    loss : str or Loss
        The returned network's loss (a Sequential has none); e.g.
        ``"cross_entropy"`` for a classifier ending in ``Softmax``.

    Returns
    -------
    Network

    Raises
    ------
    ImportError
        When torch is not installed.
    TypeError
        When ``module`` is not a Sequential, or holds a module matnn cannot
        express; the message names it and its position.
    ValueError
        When a supported module has settings matnn does not (a LeakyReLU
        slope other than 0.01, ...), a Linear layer is on the meta device
        (it holds no values), or the Linear layers' weights and biases do not
        all have one dtype, float32 or float64: none is cast, so a float64
        bias beside float32 weights is refused, never rounded.
    """
    torch = _import_torch()
    nn = torch.nn
    from .layers import Dense
    from .network import Network

    if not isinstance(module, nn.Sequential):
        hint = " (wrap it: torch.nn.Sequential(module))" if isinstance(module, nn.Linear) else ""
        raise TypeError(f"module must be a torch.nn.Sequential, got {type(module).__name__}{hint}")
    if len(module) == 0:
        raise ValueError("module is an empty Sequential; it needs at least one Linear layer")
    # [Linear, activation name] per layer, filled in as the modules are read.
    layers = []
    for i, m in enumerate(module):
        if type(m) is nn.Linear:
            layers.append([m, "identity"])
            continue
        name, problem = _matnn_name(m, nn)
        if name is None:
            raise TypeError(
                f"module[{i}] is {m!r}, which matnn cannot express; from_torch reads "
                "Linear layers and the activations Sigmoid, Tanh, ReLU, Identity, "
                "LeakyReLU, Softplus, GELU, SiLU and Softmax"
            )
        if problem is not None:
            raise ValueError(f"module[{i}] is {m!r}: {problem}")
        if not layers:
            raise TypeError(f"module[{i}] is {m!r} before any Linear layer; "
                            "matnn applies an activation only after a Linear layer")
        if type(module[i - 1]) is not nn.Linear:
            raise TypeError(f"module[{i}] is {m!r} right after another activation; "
                            "matnn applies one activation per Linear layer")
        layers[-1][1] = name
    tensors = [(f"module[{i}].{kind}", t) for i, m in enumerate(module) if type(m) is nn.Linear
               for kind, t in (("weight", m.weight), ("bias", m.bias)) if t is not None]
    for where, t in tensors:
        if t.is_meta:
            raise ValueError(
                f"{where} is on the meta device, so it holds no values; materialize the "
                "module first (e.g. module.to_empty(device='cpu'), then load its weights)"
            )
    first, dtype = tensors[0][0], tensors[0][1].dtype
    for where, t in tensors:
        if t.dtype not in (torch.float32, torch.float64) or t.dtype != dtype:
            found = f"{where} is {t.dtype}" + (f" but {first} is {dtype}" if where != first else "")
            raise ValueError(
                f"{found}; matnn needs every Linear weight and bias in one dtype, float32 "
                "or float64, and casts none of them (convert with module.double() or .float())"
            )
    dense = []
    for linear, name in layers:
        W = linear.weight.detach().cpu().numpy().copy()
        if linear.bias is None:
            b = np.zeros(W.shape[0], W.dtype)
        else:
            b = linear.bias.detach().cpu().numpy().copy()
        dense.append(Dense(W, b, name))
    return Network(dense, loss=loss)
