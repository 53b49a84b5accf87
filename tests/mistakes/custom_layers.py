"""Single-mistake variants of custom_layers (d2l 5.1-5.4)."""

from tests.mistakes import book_version, edits, variant

EX = "custom_layers"
PARAMS = "MyLinear registers weight (in_units, units) and bias (units,) as parameters"
LINEAR = "MyLinear computes ReLU(X @ weight + bias), like nn.Linear + ReLU with the same weights"
GRADIENTS = "MyLinear: gradients reach weight and bias"
CENTERED = "CenteredLayer subtracts the mean of all elements: [1, 2, 3, 4, 5] gives [-2, -1, 0, 1, 2]"
REGISTERS = "MySequential registers its children in order: state_dict keys '0.weight', '0.bias', '2.weight', ..."
FORWARD = "MySequential chains its children in order, nested too, like nn.Sequential with the same layers"
SAVE = "save_params writes net.state_dict() to the file (tensors by name, not the pickled module)"
LOAD = "load_params builds net_factory(), loads the file's state_dict into it and returns it"
LEARNS = "a MySequential of two MyLinear layers learns a nonlinear regression"

REGISTER_LINE = ("            self.add_module(str(idx), module)  # registered: parameters, .to(), state_dict all see it"
                 "\n")


VARIANTS = [
    # The children kept in a plain list: nothing is registered, so there is nothing to train or save.
    edits(EX, "children in a plain list", [
        ("        for idx, module in enumerate(args):\n" + REGISTER_LINE, "        self.blocks = list(args)\n"),
        ("for block in self._modules.values():", "for block in self.blocks:"),
    ], loses={REGISTERS, LEARNS}, mistake="custom_layers.children_not_registered"),
    # Children counted from 1: every key is off by one.
    variant(EX, "children named from 1", "self.add_module(str(idx), module)", "self.add_module(str(idx + 1), module)",
            loses={REGISTERS}, mistake="custom_layers.child_names"),
    # Children named like attributes: 'layer0.weight' instead of '0.weight'.
    variant(EX, "children named layer0, layer1", "self.add_module(str(idx), module)",
            "self.add_module(f'layer{idx}', module)", loses={REGISTERS}, mistake="custom_layers.child_names"),
    # Every child gets the original X; only the last one's output is returned.
    variant(EX, "forward does not chain", "            X = block(X)\n        return X",
            "            out = block(X)\n        return out", loses={FORWARD, LEARNS},
            mistake="custom_layers.forward_not_chaining"),
    # The children run last to first.
    variant(EX, "forward runs the children backwards", "for block in self._modules.values():",
            "for block in reversed(list(self._modules.values())):", loses={FORWARD, LEARNS},
            mistake="custom_layers.forward_not_chaining"),
    # No ReLU: a stack of MyLinear is then one linear map and cannot fit |x1| + |x2|.
    variant(EX, "MyLinear without ReLU", "return F.relu(X @ self.weight + self.bias)",
            "return X @ self.weight + self.bias", loses={LINEAR, LEARNS}, mistake="custom_layers.linear_no_relu"),
    # nn.Linear's layout: weight (units, in_units), used transposed. The values are right; only the layout differs.
    edits(EX, "MyLinear weight stored as nn.Linear stores it", [
        ("torch.randn(in_units, units)", "torch.randn(units, in_units)"),
        ("X @ self.weight + self.bias", "X @ self.weight.T + self.bias"),
    ], loses={PARAMS}, mistake="custom_layers.weight_transposed"),
    # Plain tensors instead of nn.Parameter: nothing registered, so nothing gets a gradient or trains.
    edits(EX, "MyLinear with plain tensors", [
        ("nn.Parameter(torch.randn(in_units, units))", "torch.randn(in_units, units, requires_grad=True)"),
        ("nn.Parameter(torch.randn(units))", "torch.randn(units, requires_grad=True)"),
    ], loses={PARAMS, GRADIENTS, LEARNS}, mistake="custom_layers.linear_plain_tensors"),
    # The mean of each row instead of the mean of everything.
    variant(EX, "CenteredLayer subtracts the mean of each row", "return X - X.mean()",
            "return X - X.mean(dim=-1, keepdim=True)", loses={CENTERED}, mistake="custom_layers.centered_per_row"),
    # The whole module pickled: torch.load(..., weights_only=True) refuses it.
    variant(EX, "save_params pickles the whole module", "torch.save(net.state_dict(), path)", "torch.save(net, path)",
            loses={SAVE}, mistake="custom_layers.saved_whole_module"),
    # Only the parameters: the batch norm's running statistics are lost.
    variant(EX, "save_params saves named_parameters only", "torch.save(net.state_dict(), path)",
            "torch.save(dict(net.named_parameters()), path)", loses={SAVE},
            mistake="custom_layers.saved_parameters_only"),
    # A list of tensors: no names to load them back by.
    variant(EX, "save_params saves a list of parameters", "torch.save(net.state_dict(), path)",
            "torch.save([p.detach() for p in net.parameters()], path)", loses={SAVE},
            mistake="custom_layers.saved_not_state_dict"),
    # Returns load_state_dict's report of missing and unexpected keys instead of the network.
    variant(EX, "load_params returns what load_state_dict returns",
            "    net.load_state_dict(torch.load(path))\n    return net",
            "    return net.load_state_dict(torch.load(path))", loses={LOAD},
            mistake="custom_layers.load_returns_wrong"),
    # Treats net_factory as the network itself.
    variant(EX, "load_params does not call net_factory", "net = net_factory()", "net = net_factory",
            loses={LOAD}, mistake="custom_layers.factory_not_called"),
    # The book's code (d2l-zh 5.1, 5.4, 5.5; d2l-en 6.1, 6.5, 6.6): MySequential through self._modules, and a MyLinear
    # whose forward reads self.weight.data and self.bias.data. The values are right, but no gradient reaches the
    # parameters, so the layer cannot train: the gradient test names it as the book's, and the training run fails.
    book_version(EX, "MyLinear reads .data in forward", """
        import torch
        import torch.nn.functional as F
        from torch import nn


        class MySequential(nn.Module):
            def __init__(self, *args):
                super().__init__()
                for i, block in enumerate(args):
                    self._modules[str(i)] = block

            def forward(self, X):
                for block in self._modules.values():
                    X = block(X)
                return X


        class MyLinear(nn.Module):
            def __init__(self, in_units, units):
                super().__init__()
                self.weight = nn.Parameter(torch.randn(in_units, units))
                self.bias = nn.Parameter(torch.randn(units,))

            def forward(self, X):
                return F.relu(torch.matmul(X, self.weight.data) + self.bias.data)


        class CenteredLayer(nn.Module):
            def __init__(self):
                super().__init__()

            def forward(self, X):
                return X - X.mean()


        def save_params(net, path):
            torch.save(net.state_dict(), path)


        def load_params(net_factory, path):
            clone = net_factory()
            clone.load_state_dict(torch.load(path))
            return clone
        """, loses={GRADIENTS, LEARNS}, mistake="custom_layers.book_data_in_forward"),
]
