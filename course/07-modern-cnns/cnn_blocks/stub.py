"""Exercise cnn_blocks: the blocks of VGG and NiN (course 7.2 and 7.3; d2l-zh 7.2 and 7.3, d2l-en 8.2 and 8.3).

Read the lessons first:  d2l-tutor lesson vgg   and   d2l-tutor lesson nin
Grade your work:         d2l-tutor grade cnn_blocks
Stuck? Ask for a hint:   d2l-tutor hint cnn_blocks
"""

from torch import nn


def vgg_block(num_convs, in_channels, out_channels):
    """Return one VGG block as an nn.Sequential.

    Args:
        num_convs: int >= 1, how many convolutional layers the block has.
        in_channels: int, the channels of the block's input.
        out_channels: int, the channels of every convolution's output.

    Returns:
        nn.Sequential of these layers, in this order:
            num_convs times: nn.Conv2d (3x3 kernel, padding 1, stride 1, with
                             bias), then nn.ReLU();
            then one nn.MaxPool2d (2x2 window, stride 2).
        The first convolution reads in_channels channels; every later one
        reads out_channels. The block maps (N, in_channels, H, W) to
        (N, out_channels, H // 2, W // 2).

    Example:
        blk = vgg_block(2, 3, 8)
        blk(torch.rand(1, 3, 32, 32)).shape     # (1, 8, 16, 16)
        len(blk)                                # 5 layers
    """
    raise NotImplementedError("vgg_block is not written yet: replace this line with your implementation")


def nin_block(in_channels, out_channels, kernel_size, strides, padding):
    """Return one NiN block as an nn.Sequential.

    Args:
        in_channels: int, the channels of the block's input.
        out_channels: int, the channels of every convolution's output.
        kernel_size, strides, padding: ints, the first convolution's kernel
            size, stride and padding (nn.Conv2d's kernel_size, stride and
            padding).

    Returns:
        nn.Sequential of six layers, in this order:
            nn.Conv2d(in_channels -> out_channels, kernel_size, strides,
                      padding), nn.ReLU(),
            nn.Conv2d(out_channels -> out_channels, 1x1 kernel), nn.ReLU(),
            nn.Conv2d(out_channels -> out_channels, 1x1 kernel), nn.ReLU().
        All convolutions keep their bias. Only the first convolution changes
        the height and width: H' = (H + 2 * padding - kernel_size) // strides + 1.

    Example:
        blk = nin_block(1, 96, kernel_size=11, strides=4, padding=0)
        blk(torch.rand(1, 1, 224, 224)).shape   # (1, 96, 54, 54)
    """
    raise NotImplementedError("nin_block is not written yet: replace this line with your implementation")
