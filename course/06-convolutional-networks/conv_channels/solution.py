"""Reference solution: multiple input and output channels, and the output-size formula
(course 6.2-6.3; d2l-zh 6.3-6.4, d2l-en 7.3-7.4)."""

import torch
from tutor.given import corr2d


def corr2d_multi_in(X, K):
    """One 2-D cross-correlation per input channel, added up over the channels."""
    per_channel = torch.stack([corr2d(x, k) for x, k in zip(X, K)])
    return per_channel.sum(dim=0)


def corr2d_multi_in_out(X, K):
    """One corr2d_multi_in per output channel, stacked along a new first axis."""
    outputs = [corr2d_multi_in(X, k) for k in K]
    return torch.stack(outputs, dim=0)


def corr2d_multi_in_out_1x1(X, K):
    """A 1x1 convolution is a fully connected layer applied at every pixel: one matrix product."""
    c_i, h, w = X.shape
    c_o = K.shape[0]
    X = X.reshape((c_i, h * w))
    K = K.reshape((c_o, c_i))
    Y = torch.matmul(K, X)
    return Y.reshape((c_o, h, w))


def conv_output_shape(input_shape, kernel_size, padding=(0, 0), stride=(1, 1)):
    """floor((n - k + 2p + s) / s) in each dimension, p being the padding on EACH side."""
    return tuple((n - k + 2 * p + s) // s for n, k, p, s in zip(input_shape, kernel_size, padding, stride))
