"""Reference solution: Xavier (Glorot) initialisation (course 4.6-4.7; d2l-zh 4.8, d2l-en 5.4)."""

import math

import torch


def _fans(shape):
    """(fan_in, fan_out) of a weight stored as (out, in, *kernel): each counts the kernel's receptive field."""
    if len(shape) < 2:
        raise ValueError(f"a weight needs at least 2 dimensions to have a fan-in and a fan-out, got shape {shape}")
    receptive = 1
    for size in shape[2:]:
        receptive *= size
    return shape[1] * receptive, shape[0] * receptive


def xavier_uniform(shape, gain=1.0):
    """A new float32 tensor of `shape`, uniform on [-a, a] with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return torch.rand(tuple(shape)) * (2.0 * a) - a


def xavier_normal(shape, gain=1.0):
    """A new float32 tensor of `shape`, normal with mean 0 and std gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return torch.randn(tuple(shape)) * std
