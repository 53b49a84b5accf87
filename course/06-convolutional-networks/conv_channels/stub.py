"""Exercise conv_channels: multiple input and output channels, and the output-size formula
(course 6.2-6.3; d2l-zh 6.3-6.4, d2l-en 7.3-7.4).

Read the lesson first:   d2l-tutor lesson conv_channels
Grade your work:         d2l-tutor grade conv_channels
Stuck? Ask for a hint:   d2l-tutor hint conv_channels

Shapes below: c_i input channels, c_o output channels, an (h, w) image, a (kh, kw) kernel.
"""

import torch

# Given: corr2d(X, K) from exercise corr2d (course 6.1), the reference answer. For a 2-D X of shape (h, w) and a 2-D
# kernel K of shape (kh, kw) it returns the (h - kh + 1, w - kw + 1) cross-correlation, keeping X's dtype, device and
# gradients. Use it or not, as you like.
from tutor.given import corr2d


def corr2d_multi_in(X, K):
    """Return the cross-correlation of a multi-channel input with a multi-channel kernel.

    Arguments:
        X: a tensor of shape (c_i, h, w), the input.
        K: a tensor of shape (c_i, kh, kw), one 2-D kernel per input channel.

    Returns:
        A tensor of shape (h - kh + 1, w - kw + 1) (no channel axis): the 2-D cross-correlation
        of X[c] with K[c], added up over all c_i channels. Stride 1, no padding.

    Requirements the tests check:
        * The result keeps X's dtype and device.
        * Do not use torch.nn.functional.conv2d, torch.conv2d or nn.Conv2d.

    Example (the book's):
        >>> X = torch.tensor([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
        ...                   [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
        >>> K = torch.tensor([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
        >>> corr2d_multi_in(X, K)
        tensor([[ 56.,  72.],
                [104., 120.]])
    """
    raise NotImplementedError("corr2d_multi_in is not written yet: replace this line with your implementation")


def corr2d_multi_in_out(X, K):
    """Return the cross-correlation of a multi-channel input with c_o multi-channel kernels.

    Arguments:
        X: a tensor of shape (c_i, h, w), the input.
        K: a tensor of shape (c_o, c_i, kh, kw): K[o] is the (c_i, kh, kw) kernel of output channel o.

    Returns:
        A tensor of shape (c_o, h - kh + 1, w - kw + 1) whose channel o is
        corr2d_multi_in(X, K[o]). The output channels come first, in the order of K.

    Requirements the tests check:
        * The result keeps X's dtype and device, and is differentiable with respect to K
          (the smoke-check learns a kernel through it by gradient descent).
        * Do not use torch.nn.functional.conv2d, torch.conv2d or nn.Conv2d.

    Example (the book's: the kernel K above, K + 1 and K + 2 as three output channels):
        >>> K3 = torch.stack((K, K + 1, K + 2), 0)          # shape (3, 2, 2, 2)
        >>> corr2d_multi_in_out(X, K3)
        tensor([[[ 56.,  72.],
                 [104., 120.]],

                [[ 76., 100.],
                 [148., 172.]],

                [[ 96., 128.],
                 [192., 224.]]])
    """
    raise NotImplementedError("corr2d_multi_in_out is not written yet: replace this line with your implementation")


def corr2d_multi_in_out_1x1(X, K):
    """Return the 1x1 convolution of X with K, computed as one matrix product.

    Arguments:
        X: a tensor of shape (c_i, h, w), the input.
        K: a tensor of shape (c_o, c_i, 1, 1), a 1x1 kernel per pair of output and input channel.

    Returns:
        A tensor Y of shape (c_o, h, w) with
            Y[o, i, j] = sum over c of K[o, c, 0, 0] * X[c, i, j]
        that is, what corr2d_multi_in_out(X, K) returns, but computed as a (c_o, c_i) matrix
        times a (c_i, h * w) matrix: a fully connected layer applied at every pixel.

    Requirements the tests check:
        * The result equals corr2d_multi_in_out(X, K) (up to rounding) for any c_i, c_o, h, w.
        * It keeps X's dtype and device.

    Example:
        >>> X = torch.arange(6.0).reshape(2, 1, 3)           # c_i = 2, h = 1, w = 3
        >>> K = torch.tensor([1.0, 10.0]).reshape(1, 2, 1, 1)
        >>> corr2d_multi_in_out_1x1(X, K)                     # X[0] + 10 * X[1]
        tensor([[[30., 41., 52.]]])
    """
    raise NotImplementedError("corr2d_multi_in_out_1x1 is not written yet: replace this line with your implementation")


def conv_output_shape(input_shape, kernel_size, padding=(0, 0), stride=(1, 1)):
    """Return the (height, width) of a 2-D convolution's output, as nn.Conv2d computes it.

    Arguments:
        input_shape: (n_h, n_w), the input's height and width (ints).
        kernel_size: (k_h, k_w), the kernel's height and width.
        padding: (p_h, p_w), the padding as nn.Conv2d's padding= takes it: p_h rows of zeros
            on the top AND p_h on the bottom, p_w columns on the left AND p_w on the right.
        stride: (s_h, s_w), the step of the window down and across.

    Returns:
        A tuple of two Python ints (out_h, out_w): the number of positions where the window
        fits entirely inside the padded input. Positions where the window would run past the
        padded input are not counted.

    Examples (section 6.2 of the course):
        >>> conv_output_shape((8, 8), (3, 3), padding=(1, 1))
        (8, 8)
        >>> conv_output_shape((8, 8), (3, 3), padding=(1, 1), stride=(2, 2))
        (4, 4)
    """
    raise NotImplementedError("conv_output_shape is not written yet: replace this line with your implementation")
