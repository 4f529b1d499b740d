"""``matnn gradcheck``: a network's backward pass against finite differences."""

from __future__ import annotations

import argparse
from typing import Sequence

import numpy as np

from .. import data
from .._typing import ArrayLike
from ..activations import ACTIVATIONS
from ..backprop import n_params
from ..gradient_check import MAX_COORDS, gradcheck
from ..layers import Dense
from ..network import Network
from .errors import CommandError, check_memory
from .options import AT_LEAST_ONE, AT_LEAST_ZERO, Commands, POSITIVE, SEED, layer_sizes

__all__ = ["add_parser", "run"]

#: Bytes per float64 number.
_FLOAT = 8


def add_parser(commands: Commands) -> None:
    check = commands.add_parser(
        "gradcheck",
        help="check a network's backward pass against finite differences",
        description=(
            "Compare the network's analytic gradient with float64 finite differences "
            "of its loss and print one row per parameter array; exit status 0 when "
            "they agree, 1 when some entry does not (the worst ones are listed). "
            "With none of --sizes, --activation, --batch it checks the document's "
            "network at its worked example: Alice, every weight 1, every bias 0. "
            "Tolerances default to the measured ones for the method and dtype."
        ),
    )
    check.add_argument("--sizes", metavar="N,N,...", type=layer_sizes,
                       help="layer widths of a random network (default 2,2,1)")
    check.add_argument("--activation", choices=sorted(ACTIVATIONS),
                       help="activation of every layer of a random network (default sigmoid)")
    check.add_argument("--batch", metavar="N", type=AT_LEAST_ONE,
                       help="number of random samples, features in [-3, 3] (default 8)")
    check.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                       help="the network's dtype (default float64)")
    check.add_argument("--seed", type=SEED, default=0,
                       help="seed for the random network, samples and sampled coordinates "
                            "(default 0)")
    check.add_argument("--method", choices=["central", "scipy"], default="central",
                       help="central differences, or scipy.differentiate.jacobian "
                            "(default central)")
    check.add_argument("--eps", type=POSITIVE, help="finite-difference step")
    check.add_argument("--rtol", type=AT_LEAST_ZERO, help="relative tolerance")
    check.add_argument("--atol", type=AT_LEAST_ZERO, help="absolute tolerance")
    check.add_argument("--max-coords", metavar="N", default=MAX_COORDS, type=AT_LEAST_ONE,
                       help="check every coordinate of networks up to this many "
                            f"parameters, a seeded sample beyond (default {MAX_COORDS})")
    check.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    X: ArrayLike
    y: ArrayLike
    if args.sizes is None and args.activation is None and args.batch is None:
        x, y_true = data.sample("Alice")
        net = Network([Dense(np.ones((2, 2)), np.zeros(2), "sigmoid", dtype=args.dtype),
                       Dense(np.ones((1, 2)), np.zeros(1), "sigmoid", dtype=args.dtype)])
        X, y = x.reshape(1, -1), [y_true]
        print(f"The document's network at its worked example: Alice (x = {x.tolist()}, "
              f"y_true = {y_true}), every weight 1, every bias 0, {args.dtype}")
    else:
        sizes = args.sizes or (2, 2, 1)
        activation = args.activation or "sigmoid"
        batch = args.batch or 8
        check_memory(f"checking a {','.join(map(str, sizes))} network on {batch} samples",
                     _gradcheck_bytes(sizes, batch, args.max_coords))
        rng = np.random.default_rng(args.seed)
        net = Network.from_sizes(sizes, activation, seed=rng, dtype=args.dtype)
        X = rng.uniform(-3, 3, size=(batch, sizes[0]))
        y = rng.uniform(0, 1, size=(batch, sizes[-1]))
        print(f"A random {','.join(map(str, sizes))} {activation} network, {args.dtype}, "
              f"on {batch} random samples (seed {args.seed})")
    try:
        result = gradcheck(net, X, y, eps=args.eps, rtol=args.rtol, atol=args.atol,
                           method=args.method, max_coords=args.max_coords, seed=args.seed,
                           raise_exception=False)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    print(result.table())
    if result.ok:
        return 0
    print()
    print(result.report())
    return 1


def _gradcheck_bytes(sizes: Sequence[int], batch: int, max_coords: int) -> int:
    # The network, its float64 twin, the analytic gradient, the twin's
    # workspace and the two points of the rounding-noise measurement;
    # activations for the batch; one small probe (a few hundred bytes of
    # Python objects) per checked coordinate.
    probes = min(n_params(sizes), max_coords)
    return _FLOAT * (8 * n_params(sizes) + 6 * batch * sum(sizes)) + 400 * probes
