"""Reference solution: LeNet and its accuracy on a data set (course 6.5; d2l-zh 6.6, d2l-en 7.6)."""

import torch
from torch import nn


def lenet():
    """The book's LeNet-5 for 1x28x28 images: two convolution blocks, then three fully connected layers."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )


def evaluate_accuracy(net, data_iter, device=None):
    """The fraction of examples in data_iter that net classifies correctly (eval mode, no gradients)."""
    if isinstance(net, nn.Module):
        net.eval()
        if device is None:
            device = next(iter(net.parameters())).device
    correct, total = 0, 0
    with torch.no_grad():
        for X, y in data_iter:
            X, y = X.to(device), y.to(device)
            y_hat = net(X).argmax(dim=1)
            correct += int((y_hat == y).sum())
            total += y.numel()
    return correct / total
