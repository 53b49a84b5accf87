"""Reference solution: the blocks of VGG and NiN (course 7.2 and 7.3; d2l-zh 7.2 and 7.3, d2l-en 8.2 and 8.3)."""

from torch import nn


def vgg_block(num_convs, in_channels, out_channels):
    """num_convs times (3x3 convolution with padding 1, ReLU), then a 2x2 max pooling with stride 2."""
    layers = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def nin_block(in_channels, out_channels, kernel_size, strides, padding):
    """A convolution with the given shape, then two 1x1 convolutions, each followed by a ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())
