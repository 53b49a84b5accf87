"""Reference solution: a sequential block, custom layers, and saving parameters to a file
(course 5.1-5.4; d2l-zh 5.1-5.5, d2l-en 6.1-6.6)."""

import torch
import torch.nn.functional as F
from torch import nn


class MySequential(nn.Module):
    """Runs its children one after the other; children are registered under the names '0', '1', ..."""

    def __init__(self, *args):
        super().__init__()
        for idx, module in enumerate(args):
            self.add_module(str(idx), module)  # registered: parameters, .to(), state_dict all see it

    def forward(self, X):
        for block in self._modules.values():  # in the order they were added
            X = block(X)
        return X


class MyLinear(nn.Module):
    """A fully connected layer followed by ReLU, with weight (in_units, units) and bias (units,)."""

    def __init__(self, in_units, units):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_units, units))
        self.bias = nn.Parameter(torch.randn(units))

    def forward(self, X):
        return F.relu(X @ self.weight + self.bias)


class CenteredLayer(nn.Module):
    """Subtracts the mean of all the input's elements; no parameters."""

    def __init__(self):
        super().__init__()

    def forward(self, X):
        return X - X.mean()


def save_params(net, path):
    """Write the network's state_dict (its parameters and buffers, by name) to path."""
    torch.save(net.state_dict(), path)


def load_params(net_factory, path):
    """Build a fresh network with net_factory() and load the state_dict saved at path into it."""
    net = net_factory()
    net.load_state_dict(torch.load(path))
    return net
