"""Exercise lenet: LeNet and evaluating a classifier (course 6.5; d2l-zh 6.6, d2l-en 7.6).

Read the lesson first:   d2l-tutor lesson lenet
Grade your work:         d2l-tutor grade lenet
Stuck? Ask for a hint:   d2l-tutor hint lenet
"""

import torch
from torch import nn


def lenet():
    """Return the book's LeNet as an nn.Sequential, for inputs of shape (batch, 1, 28, 28).

    The layers, in this order (12 modules in one flat nn.Sequential):
        1. a 5x5 convolution from 1 to 6 channels, padded by 2 on each side;
        2. a sigmoid;
        3. 2x2 average pooling with stride 2;
        4. a 5x5 convolution from 6 to 16 channels, no padding;
        5. a sigmoid;
        6. 2x2 average pooling with stride 2;
        7. a flatten of everything but the batch dimension;
        8. a fully connected layer to 120 units, 9. a sigmoid;
        10. a fully connected layer to 84 units, 11. a sigmoid;
        12. a fully connected layer to 10 units (the logits: no activation).

    Returns:
        An nn.Sequential with 61,706 parameters. The output shape for an input
        of shape (batch, 1, 28, 28) is (batch, 10), float32.

    Requirements the tests check:
        * Each layer's output shape for a (1, 1, 28, 28) input (the book's table):
          (1, 6, 28, 28), (1, 6, 28, 28), (1, 6, 14, 14), (1, 16, 10, 10),
          (1, 16, 10, 10), (1, 16, 5, 5), (1, 400), (1, 120), (1, 120),
          (1, 84), (1, 84), (1, 10).
        * The activations are sigmoids and the pooling is average pooling, as in
          the book (not ReLU, not max pooling).
        * The parameter count is 61,706.

    Example:
        >>> net = lenet()
        >>> net(torch.rand(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """
    raise NotImplementedError("lenet is not written yet: replace this line with your implementation")


def evaluate_accuracy(net, data_iter, device=None):
    """Return the fraction of the examples in data_iter that net classifies correctly.

    Arguments:
        net: an nn.Module mapping a batch X of shape (batch, ...) to logits of
            shape (batch, num_classes).
        data_iter: an iterable of (X, y) pairs (a DataLoader, or just a list of
            tuples); y has shape (batch,) and holds int64 class labels. Batches
            may differ in size (the last one is often smaller).
        device: where to compute. When None, use the device of net's parameters.

    Returns:
        A Python float in [0, 1]: (number of correct predictions) / (number of
        examples), counted over all examples. A prediction is the index of the
        largest logit.

    Requirements the tests check:
        * net is put in evaluation mode (net.eval()) before the first batch.
        * Every X and y is moved to the device before net sees it.
        * Examples count equally: a batch of 2 weighs half as much as a batch of 4
          (do not average per-batch accuracies).
        * No gradients are needed.

    Example:
        >>> net = nn.Sequential(nn.Linear(2, 2))
        >>> with torch.no_grad():
        ...     net[0].weight.copy_(torch.eye(2)); net[0].bias.zero_()
        >>> batches = [(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0])),
        ...            (torch.tensor([[0.0, 1.0]]), torch.tensor([1]))]
        >>> evaluate_accuracy(net, batches)
        0.6666666666666666
    """
    raise NotImplementedError("evaluate_accuracy is not written yet: replace this line with your implementation")
