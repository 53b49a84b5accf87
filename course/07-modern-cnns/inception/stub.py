"""Exercise inception: the Inception block of GoogLeNet (course 7.4; d2l-zh 7.4, d2l-en 8.4).

Read the lesson first:   d2l-tutor lesson googlenet
Grade your work:         d2l-tutor grade inception
Stuck? Ask for a hint:   d2l-tutor hint inception
"""

import torch
import torch.nn.functional as F
from torch import nn


class Inception(nn.Module):
    """The Inception block: four parallel paths whose outputs are stacked on channels.

    Created as Inception(in_channels, c1, c2, c3, c4), where c1 and c4 are ints and
    c2 and c3 are pairs (reduction channels, output channels), and called on a
    batch of images x of shape (N, in_channels, H, W).

        blk = Inception(192, 64, (96, 128), (16, 32), 32)   # GoogLeNet's first block
        blk(torch.rand(1, 192, 28, 28)).shape               # (1, 256, 28, 28)
        sum(p.numel() for p in blk.parameters())            # 163696
    """

    def __init__(self, in_channels, c1, c2, c3, c4, **kwargs):
        """Build the layers. Use exactly these attribute names (the grader copies weights by name):

            path 1: self.p1_1: nn.Conv2d, in_channels -> c1, 1x1 kernel
            path 2: self.p2_1: nn.Conv2d, in_channels -> c2[0], 1x1 kernel
                    self.p2_2: nn.Conv2d, c2[0] -> c2[1], 3x3 kernel, padding 1
            path 3: self.p3_1: nn.Conv2d, in_channels -> c3[0], 1x1 kernel
                    self.p3_2: nn.Conv2d, c3[0] -> c3[1], 5x5 kernel, padding 2
            path 4: self.p4_1: nn.MaxPool2d, 3x3 window, stride 1, padding 1
                    self.p4_2: nn.Conv2d, in_channels -> c4, 1x1 kernel

        All convolutions keep their bias (PyTorch's default). Create no other
        parameters. Pass **kwargs on to nn.Module's __init__.
        """
        super().__init__(**kwargs)
        raise NotImplementedError("Inception.__init__ is not written yet: replace this line with your implementation")

    def forward(self, x):
        """Return the block's output for x of shape (N, in_channels, H, W).

        Returns:
            A tensor of shape (N, c1 + c2[1] + c3[1] + c4, H, W): the four paths'
            outputs concatenated on the channel dimension, in the order
                path 1: ReLU(p1_1(x))
                path 2: ReLU(p2_2(ReLU(p2_1(x))))
                path 3: ReLU(p3_2(ReLU(p3_1(x))))
                path 4: ReLU(p4_2(p4_1(x)))

        Requirements the tests check:
            * Every convolution is followed by a ReLU (the 1x1 reductions too);
              the pooling is not.
            * Every path keeps the height and width H, W.
            * The channels come in the order path 1, 2, 3, 4 (dimension 1).
            * Gradients reach x and every parameter: no .detach() or .data.
        """
        raise NotImplementedError("Inception.forward is not written yet: replace this line with your implementation")
