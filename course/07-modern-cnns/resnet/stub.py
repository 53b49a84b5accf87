"""Exercise resnet: the residual block of ResNet (course 7.6; d2l-zh 7.6, d2l-en 8.6).

Read the lesson first:   d2l-tutor lesson resnet
Grade your work:         d2l-tutor grade resnet
Stuck? Ask for a hint:   d2l-tutor hint resnet
"""

import torch.nn.functional as F
from torch import nn


class Residual(nn.Module):
    """The residual block of ResNet: two 3x3 convolutions and a shortcut.

    Created as Residual(input_channels, num_channels, use_1x1conv=False, strides=1)
    and called on a batch of images X of shape (N, input_channels, H, W).

        blk = Residual(3, 3)
        blk(torch.rand(4, 3, 6, 6)).shape                  # (4, 3, 6, 6)
        blk = Residual(3, 6, use_1x1conv=True, strides=2)
        blk(torch.rand(4, 3, 6, 6)).shape                  # (4, 6, 3, 3)
    """

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        """Build the layers. Use exactly these attribute names (the grader copies weights by name):

            self.conv1: nn.Conv2d, input_channels -> num_channels, 3x3 kernel,
                        padding 1, stride `strides`
            self.conv2: nn.Conv2d, num_channels -> num_channels, 3x3 kernel,
                        padding 1, stride 1
            self.conv3: with use_1x1conv, nn.Conv2d, input_channels -> num_channels,
                        1x1 kernel, stride `strides`; otherwise None
            self.bn1, self.bn2: nn.BatchNorm2d(num_channels)

        All convolutions keep their bias (PyTorch's default). Create no other
        parameters. use_1x1conv=False is only valid when input_channels ==
        num_channels and strides == 1 (the shortcut is then X itself).
        """
        super().__init__()
        raise NotImplementedError("Residual.__init__ is not written yet: replace this line with your implementation")

    def forward(self, X):
        """Return the block's output for X of shape (N, input_channels, H, W).

        Returns:
            A tensor of shape (N, num_channels, H', W') with
            H' = (H - 1) // strides + 1 (and the same for W'):
                Y   = ReLU(bn1(conv1(X)))
                Y   = bn2(conv2(Y))            (no ReLU here)
                S   = conv3(X) if the block has conv3, else X    (the shortcut)
                out = ReLU(Y + S)

        Requirements the tests check:
            * The shortcut is added AFTER bn2 and BEFORE the last ReLU.
            * The stride is on conv1 (and conv3), never on conv2.
            * Gradients reach X through both paths: no .detach() or .data.
            * Batch normalisation follows the module's mode: batch statistics
              in training mode, the running statistics in eval mode.
        """
        raise NotImplementedError("Residual.forward is not written yet: replace this line with your implementation")
