"""Exercise custom_layers: a sequential block, custom layers, and saving parameters to a file
(course 5.1-5.4; d2l-zh 5.1-5.5, d2l-en 6.1-6.6).

Read the lesson first:   d2l-tutor lesson custom-layers
Grade your work:         d2l-tutor grade custom_layers
Stuck? Ask for a hint:   d2l-tutor hint custom_layers

Five pieces, each on its own: MySequential (a hand-made nn.Sequential), MyLinear (a layer with parameters),
CenteredLayer (a layer without), and save_params / load_params (a network's parameters to a file and back).
"""

import torch
import torch.nn.functional as F
from torch import nn


class MySequential(nn.Module):
    """A block that runs other blocks one after the other: the book's hand-made nn.Sequential.

    Created with any number of modules and called like any module:
        net = MySequential(MyLinear(4, 8), MyLinear(8, 2))
        Y = net(X)                      # the second layer applied to the first one's output
    """

    def __init__(self, *args):
        """Register every argument as a child module, under the name str(i) where i is its position.

        Arguments:
            *args: nn.Module objects (layers, or other blocks, a MySequential
                included), in the order forward must run them.

        Requirements the tests check:
            * The children are registered with the module: call
              self.add_module(name, module) (or set self._modules[name] = module)
              for each one. Only registered children count: net.parameters()
              (what an optimizer trains), net.to(device) and net.state_dict()
              (what gets saved) all skip a module kept in a plain list.
            * The names are '0', '1', '2', ... in the order of the arguments,
              so the state_dict keys are '0.weight', '0.bias', '1.weight', ...
              (a child without parameters, such as nn.ReLU(), still takes its
              number), and for a MySequential inside a MySequential
              '0.0.weight', '0.0.bias', ...
            * Do not use nn.Sequential, nn.ModuleList or nn.ModuleDict (the
              grader detects them): registering the children yourself is the
              point.

        Example:
            >>> net = MySequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
            >>> list(net.state_dict().keys())
            ['0.weight', '0.bias', '2.weight', '2.bias']
        """
        super().__init__()
        raise NotImplementedError("MySequential.__init__ is not written yet: replace this line with your "
                                  "implementation")

    def forward(self, X):
        """Chain the children: the first gets X, each next one gets the previous one's output.

        Arguments:
            X: the input of the first child (any shape it accepts).

        Returns:
            The output of the last child. With children f0, f1, f2 that is
            f2(f1(f0(X))); the children run in the order they were registered.
            It equals nn.Sequential(f0, f1, f2)(X), nested blocks included.

        Example:
            >>> net = MySequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
            >>> net(torch.ones(3, 4)).shape
            torch.Size([3, 2])
        """
        raise NotImplementedError("MySequential.forward is not written yet: replace this line with your "
                                  "implementation")


class MyLinear(nn.Module):
    """A fully connected layer followed by ReLU, with its own parameters: the book's MyLinear.

    Created as MyLinear(in_units, units); maps (batch_size, in_units) to (batch_size, units).
    Its parameters are weight (in_units, units) and bias (units,), registered as nn.Parameter,
    so that net.parameters(), net.state_dict() and net.to(device) all see them.
    """

    def __init__(self, in_units, units):
        """Create the layer's two parameters.

        Arguments:
            in_units: the number of inputs (columns of X).
            units: the number of outputs.

        Requirements the tests check:
            * self.weight, shape (in_units, units), and self.bias, shape
              (units,), both nn.Parameter, with exactly these names (their
              state_dict keys are 'weight' and 'bias'). A plain tensor, even
              with requires_grad=True, is not registered: no optimizer, no
              .to(device) and no state_dict sees it.
            * weight is (in_units, units), the transpose of how nn.Linear
              stores its (out_features, in_features) weight.
            * Any random initial values (the book uses torch.randn): the
              grader sets its own values before it compares or trains.
        """
        super().__init__()
        raise NotImplementedError("MyLinear.__init__ is not written yet: replace this line with your "
                                  "implementation")

    def forward(self, X):
        """Return ReLU(X @ weight + bias).

        Arguments:
            X: a float tensor of shape (batch_size, in_units).

        Returns:
            A tensor of shape (batch_size, units), X's dtype and device:
            ReLU(X @ weight + bias), the bias added to every row. It equals
            nn.Linear(in_units, units) followed by ReLU when nn.Linear's
            weight is weight.T and its bias is bias.

        Requirements the tests check:
            * Gradients reach weight and bias: compute with self.weight and
              self.bias themselves, never with .data or .detach(), or the
              layer cannot learn.

        Example:
            weight = [[1, -1], [2, 0], [0, 1]] (3 x 2), bias = [0.5, -1] and
            X = [[1, 1, 1]] give X @ weight + bias = [[3.5, -1.0]], so the
            result is [[3.5, 0.0]].
        """
        raise NotImplementedError("MyLinear.forward is not written yet: replace this line with your "
                                  "implementation")


class CenteredLayer(nn.Module):
    """A layer without parameters that shifts its input to mean zero: the book's CenteredLayer.

    Created as CenteredLayer(); it has no parameters at all, so list(layer.parameters()) is empty
    and its state_dict() is {}. It still composes with other layers: in
    MySequential(MyLinear(8, 128), CenteredLayer()) it centres the first layer's output.
    """

    def __init__(self):
        super().__init__()

    def forward(self, X):
        """Return X minus the mean of ALL its elements.

        Arguments:
            X: a float tensor of any shape.

        Returns:
            X - m, where m is one number: the mean over every element of X
            (not a mean per row or per column). Same shape, dtype and device
            as X; the result's elements sum to 0.

        Example:
            >>> CenteredLayer()(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))
            tensor([-2., -1.,  0.,  1.,  2.])
            >>> CenteredLayer()(torch.tensor([[1.0, 2.0], [3.0, 6.0]]))   # the mean is 3
            tensor([[-2., -1.],
                    [ 0.,  3.]])
        """
        raise NotImplementedError("CenteredLayer.forward is not written yet: replace this line with your "
                                  "implementation")


def save_params(net, path):
    """Write a network's parameters to the file `path`.

    Arguments:
        net: an nn.Module (a MySequential of layers, say).
        path: a file name such as 'mlp.params'.

    Returns:
        Nothing. The file holds net.state_dict(): an ordered dict from names
        ('0.weight', '0.bias', ..., buffers such as a batch norm's
        '1.running_mean' included) to tensors, written with torch.save.

    Requirements the tests check:
        * Save the state_dict, not the module object itself: a file of
          tensors by name loads with torch.load(path, weights_only=True)
          (safe, and independent of your class's code); a pickled module
          needs weights_only=False and the very same class to load.
    """
    raise NotImplementedError("save_params is not written yet: replace this line with your implementation")


def load_params(net_factory, path):
    """Build a fresh network and load the parameters saved in `path` into it.

    Arguments:
        net_factory: a function of no arguments that builds a new network of
            the same architecture as the one saved, e.g.
            lambda: MySequential(MyLinear(4, 8), MyLinear(8, 2)), or a class
            whose constructor takes no arguments.
        path: a file written by save_params.

    Returns:
        The network that net_factory() built, holding the saved values (its
        parameters and buffers), loaded with its load_state_dict method.
        Return the network itself, not what load_state_dict returns.

    Example:
        >>> save_params(net, 'mlp.params')
        >>> clone = load_params(lambda: MySequential(MyLinear(4, 8), MyLinear(8, 2)), 'mlp.params')
        >>> torch.equal(clone(X), net(X))
        True
    """
    raise NotImplementedError("load_params is not written yet: replace this line with your implementation")
