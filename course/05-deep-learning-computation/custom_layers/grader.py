"""Tests and smoke-check for exercise custom_layers (d2l 5.1-5.4).

The visible tests (also in the student build) check values written in the test or computed by an oracle:
PyTorch's own nn.Linear, nn.ReLU and nn.Sequential given the same weights (forbidden only inside the learner's
code). The hidden ones check gradients, the files save_params writes and load_params reads, and a training run.

How the learner's modules are built. A learner class called here is built in the sandbox and comes back as a
RemoteModule: its parameters are mirrored here, its forward runs in the sandbox (tutor.grading.remote). A
MySequential needs modules as its arguments, and the engine does not pass a RemoteModule back into learner code
(in general the sandbox's copy of its parameters may be stale). `RemoteModule.in_sandbox()` passes the sandbox's own object
instead, which is safe here because every module passed on was built in the sandbox a moment before and never
changed on this side: the values a test sets, it sets on the outer module's mirror afterwards. Torch's own layers
(nn.Linear, nn.ReLU) are built in the sandbox through a handle on torch.nn, so the MySequential tests do not
depend on the learner's MyLinear.

Files. save_params and load_params write and read real files, and the sandbox may see a file system of its own
(strict mode: a private /tmp and working folder under bubblewrap or a user namespace). So every file operation
of these tests runs in the sandbox, and only values cross over: the paths are bare file names such as
'mlp.params', relative to the sandbox's working folder, which is a fresh folder of each grading run in every
mode (a private tmpfs in strict mode, the run's temporary folder otherwise) and is deleted with it. To read what
save_params wrote, the test calls torch.load(path, weights_only=True) in the sandbox (through the torch handle);
to give load_params a file, it calls torch.save(net.state_dict(), path) there. Each function is thus tested on
its own against torch's counterpart, so a mistake in one does not cost the other's points.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from tutor.grading import Grader, TestFailure, check_tensor, check_type, describe
from tutor.grading.remote import RemoteError, RemoteModule, RemoteObject
from tutor.grading.train import Adam

grader = Grader("custom_layers")


def randn(shape, device, seed, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=gen) * scale).to(device)


# -- building modules in the sandbox -------------------------------------------------------------------------------

def torch_nn(ctx):
    return ctx.link.import_module("torch.nn")


def torch_layer(ctx, name, *args):
    """torch.nn.<name>(*args), built in the sandbox."""
    return getattr(torch_nn(ctx), name)(*args)


def learner_class(ctx, name):
    cls = ctx.fn(name)
    if not cls.is_subclass_of(nn.Module):
        raise TestFailure("{name} does not subclass nn.Module. Keep the declaration `class {name}(nn.Module):` and "
                          "call super().__init__() first in __init__.", name=name)
    return cls


def construct(ctx, name, *args, what=None):
    """The learner's module `name` built with `args` (modules are passed as the sandbox's own objects)."""
    cls = learner_class(ctx, name)
    what = what or f"{name}({', '.join(repr(a) for a in args)})"
    passed = [a.in_sandbox() if isinstance(a, RemoteModule) else a for a in args]
    try:
        module = cls(*passed)
    except RemoteError as exc:
        raise ctx.explain(exc, what) from None
    if not isinstance(module, RemoteModule) or module.broken:
        raise TestFailure("{what} did not set up an nn.Module: call super().__init__() at the start of __init__.",
                          what=what)
    return module, what


def call(ctx, module, what, *args):
    """Run the learner's module; an exception becomes a verdict that names the call."""
    text = f"{what}({', '.join(describe(a) for a in args)})"
    try:
        got = module(*args)
    except RemoteError as exc:
        raise ctx.explain(exc, text) from None
    check_type(got, text)
    return got, text


def snapshot(module):
    """The values a RemoteModule has now, by name (parameters and buffers), detached copies."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


# -- MyLinear ------------------------------------------------------------------------------------------------------

def linear_params(module, what):
    """The learner's (weight, bias) parameters, found by their number of dimensions (names are test 1's business)."""
    params = list(module.named_parameters())
    weights = [p for _, p in params if p.dim() == 2]
    biases = [p for _, p in params if p.dim() == 1]
    if len(params) != 2 or len(weights) != 1 or len(biases) != 1:
        raise TestFailure("{what} should have exactly two parameters, a 2-D weight and a 1-D bias, but it has: "
                          "{found} (see the test \"{test}\").", what=what,
                          found=", ".join(f"{n} {tuple(p.shape)}" for n, p in params) or "none", test=PARAMS)
    return weights[0], biases[0]


def set_linear(module, what, W, b):
    """Give the learner's MyLinear the weight W (in_units, units) and bias b; a weight stored as nn.Linear stores
    it, (units, in_units), gets W.T (that convention is test 1's business, and costs there only)."""
    weight, bias = linear_params(module, what)
    with torch.no_grad():
        if tuple(weight.shape) == tuple(W.shape):
            weight.copy_(W)
        elif tuple(weight.shape) == tuple(W.T.shape):
            weight.copy_(W.T)
        else:
            raise TestFailure("the weight of {what} has shape {shape}, expected {expected} (see the test \"{test}\").",
                              what=what, shape=str(tuple(weight.shape)), expected=str(tuple(W.shape)), test=PARAMS)
        if bias.shape != b.shape:
            raise TestFailure("the bias of {what} has shape {shape}, expected {expected} (see the test \"{test}\").",
                              what=what, shape=str(tuple(bias.shape)), expected=str(tuple(b.shape)), test=PARAMS)
        bias.copy_(b)
    return weight, bias


def own_values(module, what, shape):
    """(weight, bias) as the learner's layer holds them (read in the sandbox) when they are not registered."""
    try:
        weight, bias = module.weight, module.bias
    except AttributeError:
        raise TestFailure("{what} has no parameters and no attributes weight and bias (see the test \"{test}\").",
                          what=what, test=PARAMS) from None
    if not (isinstance(weight, torch.Tensor) and isinstance(bias, torch.Tensor)):
        raise TestFailure("{what}.weight and .bias should be tensors (see the test \"{test}\").", what=what,
                          test=PARAMS)
    weight, bias = weight.detach(), bias.detach()
    if tuple(weight.shape) == tuple(shape[::-1]) and tuple(weight.shape) != tuple(shape):
        weight = weight.T
    return weight, bias


def linear_oracle(X, W, b):
    """nn.Linear followed by ReLU, given the same weights: nn.Linear stores the transpose of MyLinear's weight."""
    layer = nn.Linear(W.shape[0], W.shape[1]).to(device=X.device, dtype=X.dtype)
    with torch.no_grad():
        layer.weight.copy_(W.T)
        layer.bias.copy_(b)
    return F.relu(layer(X)).detach()


PARAMS = "MyLinear registers weight (in_units, units) and bias (units,) as parameters"


@grader.test("MyLinear registers weight (in_units, units) and bias (units,) as parameters", points=1)  # PARAMS
def linear_parameters(ctx):
    """MyLinear(5, 3) must have exactly two parameters: 'weight' of shape (5, 3) and 'bias' of shape (3,), both
    nn.Parameter (so they require grad)."""
    module, what = construct(ctx, "MyLinear", 5, 3)
    params = dict(module.named_parameters())
    if not params:
        raise TestFailure("{what} has no parameters. Assign nn.Parameter(...) objects to self.weight and "
                          "self.bias: a plain tensor, even one with requires_grad=True, is not registered, so "
                          "net.parameters() never yields it (no optimizer trains it), net.to(device) does not move "
                          "it and state_dict() does not save it.", what=what,
                          mistake="custom_layers.linear_plain_tensors")
    shapes = {name: tuple(p.shape) for name, p in params.items()}
    found = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
    if shapes.get("weight") == (3, 5) and shapes.get("bias") == (3,):
        raise TestFailure("the weight of {what} has shape (3, 5), as nn.Linear stores its weight (out_features, "
                          "in_features). MyLinear follows the book: weight is (in_units, units) = (5, 3), so that "
                          "forward computes X @ weight + bias with no transpose.", what=what,
                          mistake="custom_layers.weight_transposed")
    if set(shapes) != {"weight", "bias"}:
        raise TestFailure("{what} has the parameters {found}; expected exactly two, named weight (5, 3) and "
                          "bias (3,): assign them to self.weight and self.bias (their state_dict keys are then "
                          "'weight' and 'bias', the names the book and PyTorch's layers use).", what=what,
                          found=found, mistake="custom_layers.linear_param_names")
    if shapes != {"weight": (5, 3), "bias": (3,)}:
        raise TestFailure("{what} has the parameters {found}; expected weight (5, 3), i.e. (in_units, units), and "
                          "bias (3,), i.e. (units,).", what=what, found=found)
    frozen = [name for name, p in params.items() if not p.requires_grad]
    if frozen:
        raise TestFailure("the parameter {name} of {what} does not require grad, so it cannot learn: create it as "
                          "nn.Parameter(tensor), which requires grad by default.", name=frozen[0], what=what)


def no_relu_part(got, X, W, b):
    """A TestFailure part when `got` is X @ W + b without the ReLU (there are negative values to clip)."""
    linear = (X @ W + b).detach()
    if bool((linear < 0).any()) and got.shape == linear.shape and torch.allclose(got.detach(), linear, atol=1e-5,
                                                                                   rtol=1e-4):
        return TestFailure("  Your result is X @ weight + bias without the ReLU: its negative entries must become "
                           "0. Return F.relu(X @ self.weight + self.bias).", mistake="custom_layers.linear_no_relu")
    return None


@grader.test("MyLinear computes ReLU(X @ weight + bias), like nn.Linear + ReLU with the same weights", points=1)
def linear_values(ctx):
    """The example of the docstring (weight [[1, -1], [2, 0], [0, 1]], bias [0.5, -1], X = [[1, 1, 1]] give
    [[3.5, 0]]), then MyLinear(5, 3) on a (4, 5) batch against nn.Linear(5, 3) followed by ReLU with the same
    weights (nn.Linear's weight is the transpose of yours)."""
    dev = ctx.device
    cases = [
        (torch.tensor([[1.0, -1.0], [2.0, 0.0], [0.0, 1.0]], device=dev), torch.tensor([0.5, -1.0], device=dev),
         torch.tensor([[1.0, 1.0, 1.0]], device=dev), torch.tensor([[3.5, 0.0]], device=dev)),
        (randn((5, 3), dev, 11), randn((3,), dev, 12), randn((4, 5), dev, 13), None),
    ]
    for W, b, X, expected in cases:
        module, what = construct(ctx, "MyLinear", W.shape[0], W.shape[1])
        module = module.to(dev)
        if list(module.parameters()):
            set_linear(module, what, W, b)
        else:  # weight and bias are plain tensors (test 1 says so): check the forward with the layer's own values
            W, b = (t.to(dev) for t in own_values(module, what, W.shape))
            expected = None
        with torch.no_grad():
            got, text = call(ctx, module, what, X)
        if expected is None:
            expected = linear_oracle(X, W, b)
            label = f"{text} with weight = W and bias = b, compared with relu(nn.Linear(...)(X)) given weight W.T"
        else:
            label = f"{text} with weight = [[1, -1], [2, 0], [0, 1]] and bias = [0.5, -1]"
        try:
            check_tensor(got, expected, label, atol=1e-5, rtol=1e-4)
        except TestFailure as failure:
            part = no_relu_part(got, X, W, b)
            if part is not None:
                failure.with_part(part)
            raise


def linear_loss(ctx, module, what, X, G):
    with torch.no_grad():
        got, _ = call(ctx, module, what, X)
    return float((got.double() * G.double()).sum())


@grader.test("MyLinear: gradients reach weight and bias", points=1, hidden=True)
def linear_gradients(ctx):
    """Backpropagate (MyLinear(5, 3)(X) · G).sum(). When the output is ReLU(X W + b), the gradients must equal
    nn.Linear's (with ReLU) given the same weights; otherwise they must at least match how your own output
    changes with each parameter (a directional derivative, by finite differences)."""
    dev = ctx.device
    W, b, X = randn((5, 3), dev, 21), randn((3,), dev, 22), randn((6, 5), dev, 23)
    G = randn((6, 3), dev, 24)
    module, what = construct(ctx, "MyLinear", 5, 3)
    module = module.to(dev).train()
    weight, bias = set_linear(module, what, W, b)
    got, text = call(ctx, module, what, X)
    if not got.requires_grad:
        failure = TestFailure("{text} returned a tensor that autograd cannot differentiate, so weight and bias get "
                              "no gradient and the layer cannot learn.", text=text)
        if got.shape == (6, 3) and torch.allclose(got.detach(), linear_oracle(X, W, b), atol=1e-5, rtol=1e-4):
            failure.with_part(TestFailure(
                "  The values are right, so the parameters are read in a way autograd does not follow. The book's "
                "MyLinear does this: its forward uses self.weight.data and self.bias.data, which are the same "
                "numbers cut off from the graph. That is fine for the book's forward demo, but such a layer never "
                "trains. Use self.weight and self.bias themselves.", mistake="custom_layers.book_data_in_forward"))
        else:
            failure.with_part(TestFailure("  Use self.weight and self.bias themselves in forward: no .data, "
                                          ".detach(), .item() or torch.no_grad()."))
        raise failure
    if got.shape != G.shape:
        G = randn(tuple(got.shape), dev, 24)
    (got * G).sum().backward()
    for name, p in (("weight", weight), ("bias", bias)):
        if p.grad is None or not bool((p.grad != 0).any()):
            raise TestFailure("after backpropagating through {text}, {name} has no gradient: the output does not "
                              "depend on it through operations autograd follows. Use self.{name} itself (not "
                              ".data or .detach()).", text=text, name=name,
                              mistake="custom_layers.book_data_in_forward")
    right = got.shape == (6, 3) and torch.allclose(got.detach(), linear_oracle(X, W, b), atol=1e-5, rtol=1e-4)
    if right:
        pre = X @ W + b
        grad_pre = G * (pre > 0).to(G.dtype)
        expected = {"weight": X.T @ grad_pre, "bias": grad_pre.sum(dim=0)}
        for name, p in (("weight", weight), ("bias", bias)):
            want = expected[name] if p.shape == expected[name].shape else expected[name].T
            check_tensor(p.grad, want, f"the gradient of ({text} · G).sum() with respect to {name}", atol=1e-4,
                         rtol=1e-4)
        return
    gen = torch.Generator().manual_seed(25)
    eps = 1e-3
    for name, p in (("weight", weight), ("bias", bias)):
        v = torch.randn(tuple(p.shape), generator=gen).to(dev)
        analytic = float((p.grad * v).sum())
        values = []
        with torch.no_grad():
            for sign in (1, -1):
                p.add_(sign * eps * v)
                values.append(linear_loss(ctx, module, what, X, G))
                p.sub_(sign * eps * v)
        numeric = (values[0] - values[1]) / (2 * eps)
        if abs(numeric - analytic) > 1e-2 + 2e-2 * abs(numeric):
            raise TestFailure("the gradient that autograd computes for {name} through {text} does not match how your "
                              "output really changes with it (a directional derivative of {analytic:.4g} from "
                              "autograd, {numeric:.4g} from finite differences). Part of the computation is hidden "
                              "from autograd: no .data, .detach() or torch.no_grad() inside forward.", name=name,
                              text=text, analytic=analytic, numeric=numeric)


# -- CenteredLayer -------------------------------------------------------------------------------------------------

@grader.test("CenteredLayer subtracts the mean of all elements: [1, 2, 3, 4, 5] gives [-2, -1, 0, 1, 2]", points=1)
def centered(ctx):
    """The book's example, then [[1, 2], [3, 6]] (mean 3: [[-2, -1], [0, 3]]), where a mean per row or per column
    gives other numbers, then a float64 (4, 8) batch: the result keeps X's dtype and its elements sum to 0."""
    dev = ctx.device
    X64 = randn((4, 8), dev, 31).double() * 3 + 1
    cases = [
        (torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], device=dev), torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0], device=dev)),
        (torch.tensor([[1.0, 2.0], [3.0, 6.0]], device=dev), torch.tensor([[-2.0, -1.0], [0.0, 3.0]], device=dev)),
        (X64, X64 - X64.mean()),
    ]
    module, what = construct(ctx, "CenteredLayer")
    module = module.to(dev)
    for X, expected in cases:
        with torch.no_grad():
            got, text = call(ctx, module, what, X)
        try:
            check_tensor(got, expected, text, atol=1e-6, rtol=1e-6)
        except TestFailure as failure:
            if X.dim() == 2 and got.shape == X.shape:
                g = got.detach().to(X.dtype)
                if torch.allclose(g, X - X.mean(dim=1, keepdim=True), atol=1e-5):
                    failure.with_part(TestFailure(
                        "  Your layer subtracts the mean of each row (X.mean(dim=1)). CenteredLayer subtracts ONE "
                        "number, the mean of every element of X: X - X.mean(), with no dim.",
                        mistake="custom_layers.centered_per_row"))
                elif torch.allclose(g, X - X.mean(dim=0, keepdim=True), atol=1e-5):
                    failure.with_part(TestFailure(
                        "  Your layer subtracts the mean of each column (X.mean(dim=0)). CenteredLayer subtracts ONE "
                        "number, the mean of every element of X: X - X.mean(), with no dim.",
                        mistake="custom_layers.centered_per_column"))
            raise


# -- MySequential --------------------------------------------------------------------------------------------------

REGISTERS = "MySequential registers its children in order: state_dict keys '0.weight', '0.bias', '2.weight', ..."


def check_keys(net, what, expected_shapes):
    """The state_dict keys of the learner's MySequential `net` (and their shapes) must be `expected_shapes`."""
    sd = net.state_dict()
    keys = list(sd)
    expected = list(expected_shapes)
    if not keys:
        raise TestFailure("{what} has no parameters at all, so its children were not registered: a module kept in "
                          "a plain Python list, tuple or dict is invisible to net.parameters() (an optimizer would "
                          "train nothing), to net.to(device) and to net.state_dict() (save_params would save "
                          "nothing). Register each child with self.add_module(str(idx), module), or set "
                          "self._modules[str(idx)] = module.", what=what,
                          mistake="custom_layers.children_not_registered")
    if sorted(keys) != sorted(expected):
        raise TestFailure("the state_dict keys of {what} are\n    {yours}\n  but they should be\n    {expected}\n  "
                          "Register child number idx (counting from 0, in the order of the arguments) under the "
                          "name str(idx): self.add_module(str(idx), module). These names are what nn.Sequential "
                          "uses, and what a saved state_dict is matched against when it is loaded.", what=what,
                          yours=", ".join(keys), expected=", ".join(expected),
                          mistake="custom_layers.child_names")
    for key in expected:
        if tuple(sd[key].shape) != expected_shapes[key]:
            raise TestFailure("in {what}, {key} has shape {shape}, expected {expected}: the children are not "
                              "registered in the order of the arguments (child number idx is args[idx]).",
                              what=what, key=key, shape=str(tuple(sd[key].shape)),
                              expected=str(expected_shapes[key]), mistake="custom_layers.child_order")


@grader.test("MySequential registers its children in order: state_dict keys '0.weight', '0.bias', '2.weight', ...",
             points=2)  # REGISTERS
def sequential_registers(ctx):
    """MySequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)) must have the state_dict keys '0.weight',
    '0.bias', '2.weight', '2.bias' with the Linear layers' shapes (nn.ReLU has no parameters but takes the name
    '1'); a MySequential inside a MySequential gives '0.0.weight', '0.0.bias', '1.weight', '1.bias'."""
    ctx.seed(41)
    layers = [torch_layer(ctx, "Linear", 4, 8), torch_layer(ctx, "ReLU"), torch_layer(ctx, "Linear", 8, 3)]
    net, what = construct(ctx, "MySequential", *layers,
                          what="MySequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))")
    check_keys(net, what, {"0.weight": (8, 4), "0.bias": (8,), "2.weight": (3, 8), "2.bias": (3,)})
    names = [name for name, _ in net.named_children()]
    if names != ["0", "1", "2"]:
        raise TestFailure("the children of {what} are named {yours}, expected 0, 1, 2: nn.ReLU() has no parameters, "
                          "but it is a child too and takes the name '1'.", what=what, yours=", ".join(names),
                          mistake="custom_layers.child_names")
    inner, inner_what = construct(ctx, "MySequential", torch_layer(ctx, "Linear", 4, 5), torch_layer(ctx, "ReLU"),
                                  what="MySequential(nn.Linear(4, 5), nn.ReLU())")
    outer, _ = construct(ctx, "MySequential", inner, torch_layer(ctx, "Linear", 5, 2))
    check_keys(outer, f"MySequential({inner_what}, nn.Linear(5, 2))",
               {"0.0.weight": (5, 4), "0.0.bias": (5,), "1.weight": (2, 5), "1.bias": (2,)})


def linear_copy(layer):
    """A verifier-side nn.Linear with the values of a sandbox nn.Linear (its mirror, as built)."""
    weight, bias = layer.weight.detach(), layer.bias.detach()
    copy = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        copy.weight.copy_(weight)
        copy.bias.copy_(bias)
    return copy


def chaining_part(got, X, children):
    """A TestFailure part naming the usual ways a forward fails to chain its children, when `got` is one of them."""
    g = got.detach()

    def last_only():
        return children[-1](X)

    def backwards():
        out = X
        for child in reversed(children):
            out = child(out)
        return out

    candidates = [
        (lambda: X, "  Your forward returns X unchanged: replace X by each child's output in turn (X = block(X)) "
                    "and return the last one."),
        (last_only, "  Your forward gives every child the original X and returns the last child's output. Each "
                    "child must get the previous child's output: X = block(X) inside the loop."),
        (backwards, "  Your forward runs the children in reverse order: run them in the order they were given (the "
                    "order of registration)."),
    ]
    for make, text in candidates:
        try:
            c = make().detach()
        except RuntimeError:  # the shapes do not fit: not this mistake
            continue
        if c.shape == g.shape and torch.allclose(g.to(c.dtype), c, atol=1e-5, rtol=1e-4):
            return TestFailure(text, mistake="custom_layers.forward_not_chaining")
    return None


def compare_sequential(ctx, net, what, X, oracle, children):
    if len(list(net.parameters())) == 0 and ctx.device.type != "cpu":
        raise TestFailure("{what} has no parameters, so net.to({device}) cannot move its children's weights: "
                          "register the children (see the test \"{test}\").", what=what, device=str(ctx.device),
                          test=REGISTERS)
    with torch.no_grad():
        got, text = call(ctx, net, what, X)
        expected = oracle(X)
    try:
        check_tensor(got, expected, f"{text}, compared with the same layers in nn.Sequential", atol=1e-5, rtol=1e-4)
    except TestFailure as failure:
        with torch.no_grad():
            part = chaining_part(got, X, children)
        if part is not None:
            failure.with_part(part)
        raise


@grader.test("MySequential chains its children in order, nested too, like nn.Sequential with the same layers",
             points=2)
def sequential_forward(ctx):
    """Four square nn.Linear(4, 4) / nn.Tanh() layers (so a forward that does not chain still returns a (5, 4)
    tensor), then nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), then MySequential(MySequential(nn.Linear(4, 6),
    nn.ReLU()), nn.Linear(6, 3)), each compared with nn.Sequential made of the same layers."""
    dev = ctx.device
    ctx.seed(51)
    X = randn((5, 4), dev, 52)

    specs = [[("Linear", 4, 4), ("Tanh",), ("Linear", 4, 4), ("Tanh",)],
             [("Linear", 4, 8), ("ReLU",), ("Linear", 8, 3)]]
    for spec in specs:
        layers = [torch_layer(ctx, *s) for s in spec]
        copies = [linear_copy(layer) if s[0] == "Linear" else getattr(nn, s[0])() for layer, s in zip(layers, spec)]
        text = ", ".join(f"nn.{s[0]}({', '.join(str(a) for a in s[1:])})" for s in spec)
        net, what = construct(ctx, "MySequential", *layers, what=f"MySequential({text})")
        oracle = nn.Sequential(*copies).to(dev)
        compare_sequential(ctx, net.to(dev), what, X, oracle, [c.to(dev) for c in copies])

    first, second = torch_layer(ctx, "Linear", 4, 6), torch_layer(ctx, "Linear", 6, 3)
    inner, _ = construct(ctx, "MySequential", first, torch_layer(ctx, "ReLU"))
    outer, what = construct(ctx, "MySequential", inner, second,
                            what="MySequential(MySequential(nn.Linear(4, 6), nn.ReLU()), nn.Linear(6, 3))")
    copies = [linear_copy(first), nn.ReLU(), linear_copy(second)]
    oracle = nn.Sequential(nn.Sequential(copies[0], copies[1]), copies[2]).to(dev)
    compare_sequential(ctx, outer.to(dev), what, X, oracle, [nn.Sequential(copies[0], copies[1]).to(dev),
                                                            copies[2].to(dev)])


# -- save_params and load_params -----------------------------------------------------------------------------------

NET_TEXT = "nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))"


def torch_net(ctx, seed):
    """NET_TEXT, built in the sandbox and run once in training mode there, so that the batch norm's running
    statistics (buffers: part of state_dict, not of parameters()) differ from their initial values."""
    ctx.seed(seed)
    layers = [torch_layer(ctx, "Linear", 4, 8), torch_layer(ctx, "BatchNorm1d", 8), torch_layer(ctx, "ReLU"),
              torch_layer(ctx, "Linear", 8, 2)]
    net = torch_nn(ctx).Sequential(*[layer.in_sandbox() for layer in layers])
    with torch.no_grad():
        net.in_sandbox()(randn((16, 4), "cpu", seed + 1, scale=2.0) + 1.0)  # runs on the sandbox's own object
    return ctx.link.ping(net.in_sandbox())[0]  # a fresh mirror: the sandbox's values after that step


def sandbox_torch(ctx):
    return ctx.link.import_module("torch")


def file_items(value):
    """(key, value) pairs of what torch.load returned in the sandbox, or None when it is not a dict."""
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, RemoteObject) and "builtins.dict" in value.mro:  # an OrderedDict stays in the sandbox
        items = []
        for _ in range(10_000):
            try:
                items.append(tuple(value.popitem(last=False)))
            except RemoteError:  # KeyError: empty
                break
        return items
    return None


def compare_state(got_items, expected, what, missing_hint):
    """The (key, tensor) pairs `got_items` must hold exactly the keys and values of `expected` (a state_dict)."""
    got = dict(got_items)
    lacking = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    if lacking or extra:
        failure = TestFailure("{what} has the keys\n    {yours}\n  but the network's state_dict has\n    {expected}",
                              what=what, yours=", ".join(got) or "(none)", expected=", ".join(expected))
        if missing_hint is not None and lacking and all(".running_" in k or "num_batches" in k for k in lacking):
            failure.with_part(missing_hint)
        raise failure
    for key, value in expected.items():
        check_tensor(got[key], value, f"{what}[{key!r}]", atol=0, rtol=0)


SAVE_PATH = "mlp.params"  # relative to the sandbox's working folder: a fresh, private folder of each grading run


@grader.test("save_params writes net.state_dict() to the file (tensors by name, not the pickled module)", points=1,
             hidden=True)
def save_writes_state_dict(ctx):
    """save_params(net, 'mlp.params') with net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(),
    nn.Linear(8, 2)) after one training step; then torch.load('mlp.params', weights_only=True) must give its
    state_dict: every parameter and buffer, by name, with its values."""
    net = torch_net(ctx, 61)
    expected = snapshot(net)
    save = ctx.fn("save_params")
    save(net.in_sandbox(), SAVE_PATH)
    what = f"save_params(net, {SAVE_PATH!r})"
    torch_r = sandbox_torch(ctx)
    try:
        content = torch_r.load(SAVE_PATH, weights_only=True)
    except RemoteError as exc:
        if exc.is_a("builtins.FileNotFoundError"):
            raise TestFailure("after {what}, there is no file {path}: write to the path you are given, with "
                              "torch.save(net.state_dict(), path).", what=what, path=SAVE_PATH) from None
        try:
            whole = torch_r.load(SAVE_PATH, weights_only=False)
        except RemoteError:
            whole = None
        if isinstance(whole, RemoteModule):
            raise TestFailure("after {what}, the file holds the whole module, pickled (torch.save(net, path)), so "
                              "torch.load(path, weights_only=True) refuses it: loading it would need "
                              "weights_only=False, which runs arbitrary code from the file, and the very same class "
                              "definitions. Save only the parameters and buffers by name: "
                              "torch.save(net.state_dict(), path).", what=what,
                              mistake="custom_layers.saved_whole_module") from None
        raise TestFailure("after {what}, torch.load('{path}', weights_only=True) fails ({error}): save the network's "
                          "state_dict with torch.save(net.state_dict(), path).", what=what, path=SAVE_PATH,
                          error=f"{exc.type_name}: {exc.message.splitlines()[0] if exc.message else ''}"[:300]) \
            from None
    items = file_items(content)
    if items is None:
        raise TestFailure("after {what}, the file holds {got}, not a dict from names to tensors: save the network's "
                          "state_dict, torch.save(net.state_dict(), path). A list of parameters loses their names "
                          "(and the buffers), so it cannot be loaded back with load_state_dict.", what=what,
                          got=describe(content), mistake="custom_layers.saved_not_state_dict")
    buffers = TestFailure("  The batch norm's buffers (running_mean, running_var, num_batches_tracked) are missing: "
                          "they are part of the network's state but not of its parameters. net.state_dict() holds "
                          "both; dict(net.named_parameters()) does not.",
                          mistake="custom_layers.saved_parameters_only")
    compare_state(items, expected, f"the file that {what} wrote", buffers)


@grader.test("load_params builds net_factory(), loads the file's state_dict into it and returns it", points=1,
             hidden=True)
def load_fills_fresh_net(ctx):
    """A file written by torch.save(net.state_dict(), 'saved.params') for nn.Sequential(nn.Linear(4, 8),
    nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2)); net_factory returns a fresh network of that architecture with
    other values. load_params must return that network, holding the saved parameters and buffers."""
    path = "saved.params"
    source = torch_net(ctx, 71)
    expected = snapshot(source)
    torch_r = sandbox_torch(ctx)
    torch_r.save(source.in_sandbox().state_dict(), path)
    fresh = torch_net(ctx, 72)
    made = []

    def net_factory():
        made.append(True)
        return fresh.in_sandbox()

    what = f"load_params(net_factory, {path!r})"
    load = ctx.fn("load_params")
    try:
        got = load.__wrapped__(net_factory, path)
    except RemoteError as exc:
        failure = ctx.explain(exc, what)
        if not made and exc.is_a("builtins.AttributeError"):
            failure.with_part(TestFailure(
                "  net_factory is not a network but a function that builds one: call it, net = net_factory(), "
                "then load the state_dict into that network.", mistake="custom_layers.factory_not_called"))
        raise failure from None
    if not made:
        raise TestFailure("{what} never called net_factory(): build the network with net = net_factory(), load the "
                          "file into it with net.load_state_dict(torch.load(path)), and return it.", what=what,
                          mistake="custom_layers.factory_not_called")
    if not isinstance(got, RemoteModule) or got.hid != fresh.hid:
        failure = TestFailure("{what} returned {got}, not the network that net_factory() built.", what=what,
                              got=describe(got) if not isinstance(got, RemoteObject) else repr(got))
        if got is None or (isinstance(got, RemoteObject) and "IncompatibleKeys" in got.type_qualname):
            failure.with_part(TestFailure("  net.load_state_dict(...) changes net in place and returns only a "
                                          "report of missing and unexpected keys: return net itself.",
                                          mistake="custom_layers.load_returns_wrong"))
        raise failure
    compare_state(snapshot(got).items(), expected, f"the network that {what} returned", None)


# -- smoke-check ---------------------------------------------------------------------------------------------------

HIDDEN = 32
STEPS = 150


def regression_data(gen, n):
    """Inputs in the plane and the target |x1| + |x2|: not linear, non-negative (MyLinear ends with a ReLU)."""
    X = torch.randn((n, 2), generator=gen)
    return X, X.abs().sum(dim=1, keepdim=True)


def initialise(net, gen, device):
    """The grader's own starting values, in each child's parameters (weight ~ N(0, 1/in_units), hidden biases
    0.1, the output bias 1.0 so that the final ReLU starts active), whatever the learner's initialisation."""
    children = list(net.children())
    with torch.no_grad():
        for i, child in enumerate(children):
            for p in child.parameters():
                if p.dim() == 2:
                    fan_in = 2 if i == 0 else HIDDEN
                    p.copy_((torch.randn(tuple(p.shape), generator=gen) / math.sqrt(fan_in)).to(device))
                else:
                    p.fill_(1.0 if i == len(children) - 1 else 0.1)


def train(ctx, net, forward, data, report):
    (X, y), (X_test, y_test) = data
    optimizer = Adam(list(net.parameters()), lr=0.02)
    mse = None
    for step in range(1, STEPS + 1):
        loss = ((forward(X) - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            mse = ((forward(X_test) - y_test) ** 2).mean().item()
        if not (math.isfinite(loss.item()) and math.isfinite(mse)):
            raise TestFailure("the training diverged: at step {step} the loss is {loss}.", step=step,
                              loss=str(loss.item()))
        if report:
            ctx.step(step, loss=loss.item(), test_mse=mse)
    return mse


# threshold: the test MSE after 150 Adam steps. Over seeds 0..9 (data and starting values) the reference reaches
# 0.0004 to 0.0025 (the target's variance is 0.73); a MySequential of MyLinear without the ReLU is a linear model
# and stays at 0.66 to 0.81; a MyLinear that reads .data, or a MySequential that registers nothing, trains nothing.
@grader.smoke("a MySequential of two MyLinear layers learns a nonlinear regression", points=2, metric="test MSE",
              goal="max", threshold=0.1, budget=15, plot="test_mse", hidden=True)
def learns_regression(ctx):
    """MySequential(MyLinear(2, 32), MyLinear(32, 1)) fits y = |x1| + |x2| on 256 points (full-batch Adam, 150
    steps, starting values set by the grader) and is measured on 1000 new points. The reference solution's MSE on
    the same data and start is shown beside yours."""
    dev = ctx.device
    gen = ctx.seed(0)
    to = lambda pair: tuple(t.to(dev) for t in pair)  # noqa: E731
    data = (to(regression_data(gen, 256)), to(regression_data(gen, 1000)))

    first, _ = construct(ctx, "MyLinear", 2, HIDDEN)
    second, _ = construct(ctx, "MyLinear", HIDDEN, 1)
    net, what = construct(ctx, "MySequential", first, second,
                          what=f"MySequential(MyLinear(2, {HIDDEN}), MyLinear({HIDDEN}, 1))")
    if not list(net.children()):
        raise TestFailure("{what} has no registered children, so it has no parameters to train (see the test "
                          "\"{test}\").", what=what, test=REGISTERS, mistake="custom_layers.children_not_registered")
    if not list(net.parameters()):
        raise TestFailure("the MyLinear layers of {what} have no parameters to train (see the test \"{test}\").",
                          what=what, test=PARAMS, mistake="custom_layers.linear_plain_tensors")
    net = net.to(dev).train()
    initialise(net, torch.Generator().manual_seed(1), dev)
    checked = []

    def forward(X):
        out, text = call(ctx, net, what, X)
        if not checked:
            if tuple(out.shape) != (X.shape[0], 1):
                raise TestFailure("{text} returned shape {shape}, expected {expected}.", text=text,
                                  shape=str(tuple(out.shape)), expected=str((X.shape[0], 1)))
            if not out.requires_grad:
                raise TestFailure("{text} returned a tensor that autograd cannot differentiate, so nothing can be "
                                  "trained (see the test \"{test}\").", text=text,
                                  test="MyLinear: gradients reach weight and bias",
                                  mistake="custom_layers.book_data_in_forward")
            checked.append(True)
        return out

    mine = train(ctx, net, forward, data, report=True)

    reference = ctx.ref("MySequential")(ctx.ref("MyLinear")(2, HIDDEN), ctx.ref("MyLinear")(HIDDEN, 1)).to(dev)
    initialise(reference, torch.Generator().manual_seed(1), dev)
    theirs = train(ctx, reference, reference, data, report=False)
    return {"value": mine, "reference": theirs}
