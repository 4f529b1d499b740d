"""Benchmarks: the scalar shim against the matrix network, and the matrix
network against its hardware lower bound. Run ``python -m benchmarks``;
see :mod:`benchmarks.harness` for how the cases are written.
"""
