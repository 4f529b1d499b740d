"""The document's scalar network, kept as a bit-for-bit compatibility shim.

Everything here repeats the document's arithmetic, one named float at a time,
so that after ``np.random.seed(s)`` it builds, trains and prints exactly what
the document's code does, to the last bit. That is why it keeps habits the
rest of matnn avoids: the sigmoid is ``1 / (1 + exp(-x))`` rather than
``scipy.special.expit`` (they differ in the last bit for about 2% of inputs),
the weights come from numpy's *global* RNG, and each update multiplies its
factors left to right exactly as the document's update lines do.

Use it to read the document's derivation in code, and to check the matrix
form against it (:func:`to_network`, :func:`from_network`). For real work use
:class:`matnn.Network`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence, TypeAlias

import numpy as np

from ._typing import ArrayLike, NDArray
from .layers import Dense
from .network import Network

__all__ = [
    "sigmoid",
    "deriv_sigmoid",
    "mse_loss",
    "Neuron",
    "FixedNetwork",
    "OurNeuralNetwork",
    "Backprop",
    "PARAM_NAMES",
    "CHAINS",
    "to_network",
    "from_network",
]

#: The nine parameters in the order the document draws them.
#: Samples as rows: a sequence of ``[x1, x2]``, or an ndarray of shape (n_samples, 2).
_Rows: TypeAlias = "Sequence[Sequence[float]] | NDArray[Any]"

PARAM_NAMES = ("w1", "w2", "w3", "w4", "w5", "w6", "b1", "b2", "b3")


def sigmoid(x: float) -> float:
    """The logistic function ``f(x) = 1 / (1 + e^(-x))``, as the document writes it."""
    return 1 / (1 + np.exp(-x))


def deriv_sigmoid(x: float) -> float:
    """``f'(x) = f(x) * (1 - f(x))``, evaluated from ``x``."""
    fx = sigmoid(x)
    return fx * (1 - fx)


def mse_loss(y_true: Sequence[float] | NDArray[Any], y_pred: NDArray[Any]) -> float:
    """Mean of ``(y_true - y_pred) ** 2`` over two equal-length arrays."""
    return ((y_true - y_pred) ** 2).mean()


class Neuron:
    """One sigmoid neuron of section 1: ``f(np.dot(weights, x) + bias)``.

    Parameters
    ----------
    weights : array-like of shape (n_in,)
    bias : float
    """

    def __init__(self, weights: ArrayLike, bias: float) -> None:
        self.weights = weights
        self.bias = bias

    def feedforward(self, x: ArrayLike) -> float:
        """The neuron's output for one input ``x`` of shape (n_in,)."""
        return sigmoid(np.dot(self.weights, x) + self.bias)


class FixedNetwork:
    """The section-2 network: h1, h2 and o1 all with ``w = [0, 1]``, ``b = 0``.

    Its matrix form is ``W1 = [[0, 1], [0, 1]]``, ``b1 = [0, 0]``,
    ``W2 = [[0, 1]]``, ``b2 = [0]``.
    """

    def __init__(self) -> None:
        weights = np.array([0, 1])
        self.h1 = Neuron(weights, 0)
        self.h2 = Neuron(weights, 0)
        self.o1 = Neuron(weights, 0)

    def feedforward(self, x: ArrayLike) -> float:
        """``o1`` for one input ``x`` of shape (2,)."""
        h = np.array([self.h1.feedforward(x), self.h2.feedforward(x)])
        return self.o1.feedforward(h)


#: For each parameter, the chain-rule factors whose product is dL/dparam,
#: in the order the document multiplies them.
CHAINS = {
    "w1": ("d_L_d_ypred", "d_ypred_d_h1", "d_h1_d_w1"),
    "w2": ("d_L_d_ypred", "d_ypred_d_h1", "d_h1_d_w2"),
    "b1": ("d_L_d_ypred", "d_ypred_d_h1", "d_h1_d_b1"),
    "w3": ("d_L_d_ypred", "d_ypred_d_h2", "d_h2_d_w3"),
    "w4": ("d_L_d_ypred", "d_ypred_d_h2", "d_h2_d_w4"),
    "b2": ("d_L_d_ypred", "d_ypred_d_h2", "d_h2_d_b2"),
    "w5": ("d_L_d_ypred", "d_ypred_d_w5"),
    "w6": ("d_L_d_ypred", "d_ypred_d_w6"),
    "b3": ("d_L_d_ypred", "d_ypred_d_b3"),
}


@dataclass(frozen=True)
class Backprop:
    """Every intermediate value of one sample's forward and backward pass.

    The names follow the document: ``sum_h1`` is the pre-activation of h1,
    ``d_ypred_d_h1`` is the partial of ``y_pred`` with respect to ``h1``, and
    so on. :attr:`CHAINS` says which factors make up each gradient.
    """

    x1: float
    x2: float
    y_true: float
    sum_h1: float
    h1: float
    sum_h2: float
    h2: float
    sum_o1: float
    y_pred: float
    d_L_d_ypred: float
    d_ypred_d_w5: float
    d_ypred_d_w6: float
    d_ypred_d_b3: float
    d_ypred_d_h1: float
    d_ypred_d_h2: float
    d_h1_d_w1: float
    d_h1_d_w2: float
    d_h1_d_b1: float
    d_h2_d_w3: float
    d_h2_d_w4: float
    d_h2_d_b2: float

    @property
    def o1(self) -> float:
        """The output neuron's value, the same number as ``y_pred``."""
        return self.y_pred

    @property
    def loss(self) -> float:
        """This one sample's squared error ``(y_true - y_pred) ** 2``."""
        return (self.y_true - self.y_pred) ** 2

    def partial(self, name: str, scale: float | None = None) -> float:
        """``dL/d<name>``, multiplying the chain left to right.

        With ``scale`` the product starts from it, ``scale * f1 * f2 * ...``,
        which is how the document's update line groups ``learn_rate * ...``.
        """
        factors = [getattr(self, f) for f in CHAINS[name]]
        product = factors[0] if scale is None else scale * factors[0]
        for factor in factors[1:]:
            product = product * factor
        return product


class OurNeuralNetwork:
    """The trainable 2-2-1 network of section 4, one float per parameter.

    Parameters
    ----------
    **params : float, optional
        All nine of ``w1..w6, b1..b3``. When none are given each is drawn with
        ``np.random.normal()`` from numpy's global RNG, in the order w1..w6,
        b1..b3, exactly as the document does.

    Attributes
    ----------
    w1, w2 : float
        h1's weights for x1 (weight) and x2 (height); ``W1[0, :]``.
    w3, w4 : float
        h2's weights; ``W1[1, :]``.
    w5, w6 : float
        o1's weights for h1 and h2; ``W2[0, :]``.
    b1, b2, b3 : float
        Biases of h1, h2 and o1; ``b1[0]``, ``b1[1]``, ``b2[0]``.
    """

    w1: float
    w2: float
    w3: float
    w4: float
    w5: float
    w6: float
    b1: float
    b2: float
    b3: float

    def __init__(self, **params: float) -> None:
        if params:
            missing = [p for p in PARAM_NAMES if p not in params]
            unknown = sorted(set(params) - set(PARAM_NAMES))
            if missing or unknown:
                raise TypeError(
                    f"give all nine parameters {PARAM_NAMES} or none; "
                    f"missing {missing}, unknown {unknown}"
                )
            for name in PARAM_NAMES:
                setattr(self, name, float(params[name]))
        else:
            for name in PARAM_NAMES:
                setattr(self, name, np.random.normal())

    def params(self) -> dict[str, float]:
        """The nine parameters as a dict, in the document's order."""
        return {name: getattr(self, name) for name in PARAM_NAMES}

    def feedforward(self, x: Sequence[float] | NDArray[Any]) -> float:
        """``o1`` for one sample ``x = [x1, x2]``."""
        h1 = sigmoid(self.w1 * x[0] + self.w2 * x[1] + self.b1)
        h2 = sigmoid(self.w3 * x[0] + self.w4 * x[1] + self.b2)
        return sigmoid(self.w5 * h1 + self.w6 * h2 + self.b3)

    def backprop(self, x: Sequence[float] | NDArray[Any], y_true: float) -> Backprop:
        """Forward and backward pass for one sample, every factor kept.

        Parameters
        ----------
        x : array-like of shape (2,)
        y_true : float

        Returns
        -------
        Backprop
        """
        x1, x2 = x[0], x[1]
        sum_h1 = self.w1 * x1 + self.w2 * x2 + self.b1
        h1 = sigmoid(sum_h1)
        sum_h2 = self.w3 * x1 + self.w4 * x2 + self.b2
        h2 = sigmoid(sum_h2)
        sum_o1 = self.w5 * h1 + self.w6 * h2 + self.b3
        y_pred = sigmoid(sum_o1)
        return Backprop(
            x1=x1, x2=x2, y_true=y_true,
            sum_h1=sum_h1, h1=h1, sum_h2=sum_h2, h2=h2, sum_o1=sum_o1, y_pred=y_pred,
            d_L_d_ypred=-2 * (y_true - y_pred),
            d_ypred_d_w5=h1 * deriv_sigmoid(sum_o1),
            d_ypred_d_w6=h2 * deriv_sigmoid(sum_o1),
            d_ypred_d_b3=deriv_sigmoid(sum_o1),
            d_ypred_d_h1=self.w5 * deriv_sigmoid(sum_o1),
            d_ypred_d_h2=self.w6 * deriv_sigmoid(sum_o1),
            d_h1_d_w1=x1 * deriv_sigmoid(sum_h1),
            d_h1_d_w2=x2 * deriv_sigmoid(sum_h1),
            d_h1_d_b1=deriv_sigmoid(sum_h1),
            d_h2_d_w3=x1 * deriv_sigmoid(sum_h2),
            d_h2_d_w4=x2 * deriv_sigmoid(sum_h2),
            d_h2_d_b2=deriv_sigmoid(sum_h2),
        )

    def gradients(
        self, x: Sequence[float] | NDArray[Any], y_true: float, *, scale: float | None = None
    ) -> dict[str, float]:
        """The nine partials ``dL/dparam`` of one sample's squared error.

        Parameters
        ----------
        x : array-like of shape (2,)
        y_true : float
        scale : float, optional
            Return ``scale * dL/dparam`` grouped as the document's update line
            ``learn_rate * f1 * f2 * ...`` (left to right), which is not
            always bit-equal to ``scale * (f1 * f2 * ...)``.

        Returns
        -------
        dict
            Keys ``"w1".."w6", "b1".."b3"``. The factors behind each value
            are in :meth:`backprop`.
        """
        bp = self.backprop(x, y_true)
        return {name: bp.partial(name, scale) for name in PARAM_NAMES}

    def loss(self, data: _Rows, all_y_trues: Sequence[float] | NDArray[Any]) -> float:
        """The MSE over a data set, predicting one row at a time."""
        y_preds = np.array([self.feedforward(x) for x in data])
        return mse_loss(all_y_trues, y_preds)

    def train(
        self,
        data: _Rows,
        all_y_trues: Sequence[float] | NDArray[Any],
        learn_rate: float = 0.1,
        epochs: int = 1000,
    ) -> list[tuple[int, float]]:
        """Per-sample SGD in dataset order, printing the loss every 10 epochs.

        Parameters
        ----------
        data : array-like of shape (n_samples, 2)
        all_y_trues : array-like of shape (n_samples,)
        learn_rate : float
        epochs : int

        Returns
        -------
        list of (int, float)
            The ``(epoch, loss)`` pairs that were printed.
        """
        logged = []
        for epoch in range(epochs):
            for x, y_true in zip(data, all_y_trues):
                steps = self.gradients(x, y_true, scale=learn_rate)
                for name in PARAM_NAMES:
                    setattr(self, name, getattr(self, name) - steps[name])
            if epoch % 10 == 0:
                loss = self.loss(data, all_y_trues)
                print("Epoch %d loss: %.3f" % (epoch, loss))
                logged.append((epoch, loss))
        return logged


def to_network(scalar_net: OurNeuralNetwork) -> Network:
    """The matrix form of an :class:`OurNeuralNetwork` (float64, sigmoid).

    ``W1 = [[w1, w2], [w3, w4]]``, ``b1 = [b1, b2]``, ``W2 = [[w5, w6]]``,
    ``b2 = [b3]``. The values are copied exactly.
    """
    p = scalar_net.params()
    return Network([
        Dense([[p["w1"], p["w2"]], [p["w3"], p["w4"]]], [p["b1"], p["b2"]], "sigmoid",
              dtype=np.float64),
        Dense([[p["w5"], p["w6"]]], [p["b3"]], "sigmoid", dtype=np.float64),
    ])


def from_network(net: Network) -> OurNeuralNetwork:
    """The scalar form of a 2-2-1 all-sigmoid :class:`~matnn.Network`.

    Raises
    ------
    ValueError
        If ``net`` is not a 2-2-1 network with sigmoid activations.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a matnn.Network, got {type(net).__name__}")
    if net.sizes != (2, 2, 1) or net.activations != ("sigmoid", "sigmoid"):
        raise ValueError(
            "only the document's network converts to scalar form: sizes (2, 2, 1) with "
            f"sigmoid activations; got sizes {net.sizes}, activations {net.activations}"
        )
    (W1, b1), (W2, b2) = [(layer.W, layer.b) for layer in net.layers]
    return OurNeuralNetwork(
        w1=W1[0, 0], w2=W1[0, 1], w3=W1[1, 0], w4=W1[1, 1], w5=W2[0, 0], w6=W2[0, 1],
        b1=b1[0], b2=b1[1], b3=b2[0],
    )
