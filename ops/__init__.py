"""Fused CPU operators the models build on (numba kernels with their autograd), each tested against a plain
PyTorch reference."""
