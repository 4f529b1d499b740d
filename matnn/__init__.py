"""matnn: the "neural network from scratch" lesson, in matrix form.

The lesson builds a 2-2-1 sigmoid network one scalar at a time. matnn writes
each layer as a weight matrix and runs the forward and backward passes over a
whole batch at once, for any depth and width, and proves that its 2-2-1 case
is the lesson's network (see :mod:`matnn.scalar`).

>>> import matnn
>>> net = matnn.Network.from_sizes([2, 2, 1], seed=0)
>>> net.predict([[-7, -3], [20, 2]]).shape
(2, 1)
"""

from .activations import ACTIVATIONS, Activation
from .draw import Drawing, draw
from .ensemble import Ensemble
from .gradient_check import GradcheckError, GradcheckResult, gradcheck
from .history import History
from .layers import Dense
from .losses import LOSSES, Loss, mse
from .network import Network
from .lbfgs import LBFGS, LBFGSResult
from .optimizers import SGD, Adam, AdamW, Optimizer
from .saving import load, save
from .scaling import Standardizer
from .threads import get_num_threads, set_num_threads
# The bridge imports torch only when called, so matnn itself never does.
from .torch_bridge import from_torch, to_torch
from .diagnostics import LossIncreasedWarning, TrainingDiverged
from .training import EpochRecord

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Adam",
    "AdamW",
    "LOSSES",
    "Loss",
    "LossIncreasedWarning",
    "Dense",
    "Drawing",
    "Ensemble",
    "EpochRecord",
    "GradcheckError",
    "GradcheckResult",
    "History",
    "LBFGS",
    "LBFGSResult",
    "Network",
    "Optimizer",
    "SGD",
    "Standardizer",
    "TrainingDiverged",
    "draw",
    "from_torch",
    "get_num_threads",
    "gradcheck",
    "load",
    "mse",
    "save",
    "set_num_threads",
    "to_torch",
]
__version__ = "0.3.1"
