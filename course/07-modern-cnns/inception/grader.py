"""Tests and smoke-check for exercise inception (d2l 7.4).

The learner's Inception is built in the sandbox and comes back as a RemoteModule (tutor.grading.remote): its
parameters are mirrored here, so the tests copy weights into it by the book's names (p1_1, p2_1, p2_2, p3_1, p3_2,
p4_2) and its forward runs in the sandbox. The visible tests check shapes and a parameter count written in the test,
the parameter layout, and the values against an oracle written here from F.conv2d, F.max_pool2d and torch.cat given
the same weights; the hidden ones compare with the reference, check the gradients against the oracle's, and train a
small GoogLeNet-style net of the learner's blocks on the generated image set.
"""

import itertools
import math
import re

import torch
import torch.nn.functional as F
from torch import nn

from tutor.grading import Grader, TestFailure, check_tensor, check_type, describe
from tutor.grading.data import batches, shape_images
from tutor.grading.remote import RemoteError, RemoteModule
from tutor.grading.train import Adam

grader = Grader("inception")


def randn(shape, device, seed, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=gen) * scale).to(device)


def signature(args):
    cin, c1, c2, c3, c4 = args
    return f"Inception({cin}, {c1}, {tuple(c2)}, {tuple(c3)}, {c4})"


# -- building and calling the learner's block ----------------------------------------------------------------------

def construct(ctx, *args):
    """The learner's Inception(*args) on ctx.device; any exception becomes a verdict."""
    cls = ctx.fn("Inception")
    if not cls.is_subclass_of(nn.Module):
        raise TestFailure("Inception does not subclass nn.Module. Keep the declaration `class Inception(nn.Module):` "
                          "and call super().__init__(**kwargs) first in __init__.")
    what = signature(args)
    try:
        module = cls(*args)
    except RemoteError as exc:
        raise ctx.explain(exc, what) from None
    if not isinstance(module, RemoteModule) or module.broken:
        raise TestFailure("{what} did not set up an nn.Module: call super().__init__(**kwargs) at the start of "
                          "__init__.", what=what)
    return module.to(ctx.device), what


# torch.cat's message: "Sizes of tensors must match except in dimension D. Expected size A but got size B for tensor
# number K in the list."
CAT_ERROR = re.compile(r"except in dimension (\d+)\. Expected size (\d+) but got size (\d+) for tensor number (\d+)")


def explain_cat(exc):
    """The TestFailure part naming the mistake behind a failed torch.cat, or None."""
    m = CAT_ERROR.search(exc.message)
    if not m:
        return None
    dim, expected, got, k = (int(g) for g in m.groups())
    if dim != 1:
        return TestFailure("  torch.cat joined the paths on dimension {dim}, where they differ in size: the paths "
                           "must be stacked on the channel dimension, torch.cat((p1, p2, p3, p4), dim=1).", dim=dim,
                           mistake="inception.cat_dim")
    if k == 3:
        return TestFailure("  Path 4 (the pooling path) has height or width {got} instead of {expected}: the max-pool "
                           "must keep the size, nn.MaxPool2d(kernel_size=3, stride=1, padding=1).", got=got,
                           expected=expected, mistake="inception.pool_shrinks")
    if k == 2:
        return TestFailure("  Path 3 has height or width {got} instead of {expected}: a 5x5 convolution keeps the size "
                           "only with padding=2 ((5 - 1) / 2 on each side).", got=got, expected=expected,
                           mistake="inception.padding_5x5")
    if k == 1:
        return TestFailure("  Path 2 has height or width {got} instead of {expected}: a 3x3 convolution keeps the size "
                           "only with padding=1.", got=got, expected=expected, mistake="inception.padding_3x3")
    return None


def call(ctx, module, what, X):
    """Run the learner's block on X; explain any exception (naming the path that changes the size)."""
    text = f"{what}({describe(X)})"
    try:
        got = module(X)
    except RemoteError as exc:
        failure = ctx.explain(exc, text)
        part = explain_cat(exc)
        if part is not None:
            failure.with_part(part)
        raise failure from None
    check_type(got, text)
    return got, text


def expected_params(cin, c1, c2, c3, c4):
    """The book's parameter names and shapes (p4_1, the pooling, has none)."""
    return {"p1_1.weight": (c1, cin, 1, 1), "p1_1.bias": (c1,),
            "p2_1.weight": (c2[0], cin, 1, 1), "p2_1.bias": (c2[0],),
            "p2_2.weight": (c2[1], c2[0], 3, 3), "p2_2.bias": (c2[1],),
            "p3_1.weight": (c3[0], cin, 1, 1), "p3_1.bias": (c3[0],),
            "p3_2.weight": (c3[1], c3[0], 5, 5), "p3_2.bias": (c3[1],),
            "p4_2.weight": (c4, cin, 1, 1), "p4_2.bias": (c4,)}


def check_layout(module, what, args):
    """A failure (pointing to the parameter test) unless the block's parameters have the book's names and shapes."""
    got = {n: tuple(p.shape) for n, p in module.named_parameters()}
    if got != expected_params(*args):
        raise TestFailure("the parameters of {what} are not the book's p1_1, p2_1, p2_2, p3_1, p3_2, p4_2 (see the "
                          "test \"{test}\"), so the grader cannot give it its weights.", what=what, test=LAYOUT)


def random_state(args, device, seed):
    """Random weights by the book's names, scaled so that every path's output is of order 1."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in expected_params(*args).items():
        if name.endswith("weight"):
            state[name] = torch.randn(shape, generator=gen) / math.sqrt(shape[1] * shape[2] * shape[3])
        else:
            state[name] = 0.3 * torch.randn(shape, generator=gen)
    return {k: v.to(device) for k, v in state.items()}


def load(module, state):
    """Copy `state` into the learner's mirrored parameters (names checked by check_layout)."""
    mine = dict(module.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            mine[name].copy_(value)


def oracle(X, p, *, order=(0, 1, 2, 3), relu_reduce=True, relu_out=True, conv_before_pool=False, avg_pool=False):
    """The Inception block written with F.conv2d, F.max_pool2d and torch.cat on the weights `p` (a dict by the
    book's names); the keywords make the usual wrong versions."""
    def conv(Z, name, padding=0):
        return F.conv2d(Z, p[f"{name}.weight"], p[f"{name}.bias"], padding=padding)

    act = F.relu if relu_out else (lambda Z: Z)
    red = F.relu if relu_reduce else (lambda Z: Z)
    pool = ((lambda Z: F.avg_pool2d(Z, 3, stride=1, padding=1)) if avg_pool
            else (lambda Z: F.max_pool2d(Z, 3, stride=1, padding=1)))
    p1 = act(conv(X, "p1_1"))
    p2 = act(conv(red(conv(X, "p2_1")), "p2_2", 1))
    p3 = act(conv(red(conv(X, "p3_1")), "p3_2", 2))
    p4 = pool(act(conv(X, "p4_2"))) if conv_before_pool else act(conv(pool(X), "p4_2"))
    paths = (p1, p2, p3, p4)
    return torch.cat([paths[i] for i in order], dim=1)


MISTAKES = [
    (dict(relu_reduce=False), lambda: TestFailure(
        "  Your output matches the block without the ReLU after the 1x1 reductions p2_1 and p3_1: every convolution "
        "is followed by a ReLU, so path 2 is F.relu(self.p2_2(F.relu(self.p2_1(x)))) (and path 3 likewise).",
        mistake="inception.relu_after_reduction_missing")),
    (dict(relu_out=False), lambda: TestFailure(
        "  Your output matches the block without a ReLU at the end of each path: apply F.relu to the output of p1_1, "
        "p2_2, p3_2 and p4_2 before the concatenation.",
        mistake="inception.relu_missing")),
    (dict(conv_before_pool=True), lambda: TestFailure(
        "  Your output matches a path 4 that convolves first and pools afterwards: the book pools x first, then "
        "applies the 1x1 convolution, F.relu(self.p4_2(self.p4_1(x))).",
        mistake="inception.pool_path_order")),
    (dict(avg_pool=True), lambda: TestFailure(
        "  Your output matches a path 4 with average pooling: the book's path 4 takes the maximum, "
        "nn.MaxPool2d(kernel_size=3, stride=1, padding=1).",
        mistake="inception.avg_pool")),
]


def diagnose(got, X, p, expected):
    """The TestFailure part naming the first wrong version that `got` matches, or None."""
    g = got.detach()

    def matches(candidate):
        candidate = candidate.detach()
        return (candidate.shape == g.shape and not torch.allclose(candidate, expected, atol=1e-5)
                and torch.allclose(g.to(candidate.dtype), candidate, atol=1e-4, rtol=1e-4))

    for order in itertools.permutations(range(4)):
        if order != (0, 1, 2, 3) and matches(oracle(X, p, order=order)):
            return TestFailure("  Your output holds the right paths in the order {found}: the book concatenates "
                               "paths 1, 2, 3, 4 in that order, torch.cat((p1, p2, p3, p4), dim=1); a network with "
                               "copied weights relies on it.", found=", ".join(str(i + 1) for i in order),
                               mistake="inception.concat_order")
    for kwargs, why in MISTAKES:
        if matches(oracle(X, p, **kwargs)):
            return why()
    return None


def check_against(got, expected, text, diagnosis):
    try:
        check_tensor(got, expected, text, atol=1e-4, rtol=1e-4)
    except TestFailure as failure:
        part = diagnosis()
        if part is not None:
            failure.with_part(part)
        raise failure from None


# -- tests -----------------------------------------------------------------------------------------------------------

SHAPES = "output shape: c1 + c2[1] + c3[1] + c4 channels, height and width kept"


@grader.test("output shape: c1 + c2[1] + c3[1] + c4 channels, height and width kept", points=2)  # SHAPES
def output_shapes(ctx):
    """Three small blocks on inputs with odd, even and non-square sizes: the output has c1 + c2[1] + c3[1] + c4
    channels and the input's height and width."""
    cases = [((3, 2, (4, 5), (2, 3), 4), (2, 3, 7, 7), (2, 14, 7, 7)),
             ((5, 6, (3, 2), (1, 7), 1), (1, 5, 6, 9), (1, 16, 6, 9)),
             ((4, 1, (2, 3), (2, 2), 8), (3, 4, 5, 4), (3, 14, 5, 4))]
    for i, (args, shape, expected) in enumerate(cases):
        module, what = construct(ctx, *args)
        with torch.no_grad():
            got, text = call(ctx, module, what, randn(shape, ctx.device, i))
        if tuple(got.shape) != expected:
            raise TestFailure("{text} returned shape {shape}; expected {expected}: c1 + c2[1] + c3[1] + c4 = "
                              "{channels} channels, and every path keeps the height and width (padding 1 for the 3x3 "
                              "convolution, 2 for the 5x5, stride 1 and padding 1 for the pooling).", text=text,
                              shape=str(tuple(got.shape)), expected=str(expected), channels=expected[1])


@grader.test("GoogLeNet's first block: Inception(192, 64, (96, 128), (16, 32), 32) gives 256 channels at 28x28, "
             "163,696 parameters", points=2)
def book_first_block(ctx):
    """The book's first Inception block (in b3) on a (1, 192, 28, 28) input: shape (1, 256, 28, 28), and 163,696
    parameters (64·192 + 64 + 96·192 + 96 + 128·96·9 + 128 + 16·192 + 16 + 32·16·25 + 32 + 32·192 + 32)."""
    args = (192, 64, (96, 128), (16, 32), 32)
    module, what = construct(ctx, *args)
    count = sum(p.numel() for p in module.parameters())
    if count != 163696:
        raise TestFailure("{what} has {count} parameters; the book's block has 163,696. Check each convolution's "
                          "kernel size and channels against the docstring (the pooling has no parameters).",
                          what=what, count=f"{count:,}")
    with torch.no_grad():
        got, text = call(ctx, module, what, torch.rand(1, 192, 28, 28, generator=torch.Generator().manual_seed(7))
                         .to(ctx.device))
    if tuple(got.shape) != (1, 256, 28, 28):
        raise TestFailure("{text} returned shape {shape}; the book's first Inception block gives (1, 256, 28, 28): "
                          "64 + 128 + 32 + 32 channels, 28x28 kept.", text=text, shape=str(tuple(got.shape)))


LAYOUT = "parameters: p1_1, p2_1, p2_2, p3_1, p3_2, p4_2 with the book's shapes (p4_1 is the pooling)"


@grader.test("parameters: p1_1, p2_1, p2_2, p3_1, p3_2, p4_2 with the book's shapes (p4_1 is the pooling)",
             points=1)  # LAYOUT
def parameter_layout(ctx):
    """Inception(3, 2, (4, 5), (2, 3), 4): parameter names and shapes as the book's (so the book's code and weights
    work with yours), and a submodule p4_1 without parameters."""
    args = (3, 2, (4, 5), (2, 3), 4)
    module, what = construct(ctx, *args)
    got = {n: tuple(p.shape) for n, p in module.named_parameters()}
    expected = expected_params(*args)
    if got != expected:
        found = ", ".join(f"{n} {s}" for n, s in got.items()) or "none"
        want = ", ".join(f"{n} {s}" for n, s in expected.items())
        raise TestFailure("{what} has the parameters {found}; expected {want}.", what=what, found=found, want=want)
    if "p4_1" not in dict(module.named_children()):
        raise TestFailure("{what} has no submodule p4_1: make the pooling a layer, self.p4_1 = "
                          "nn.MaxPool2d(kernel_size=3, stride=1, padding=1).", what=what)


VALUE_CASES = [((3, 2, (4, 5), (2, 3), 4), (2, 3, 6, 6)), ((6, 3, (2, 4), (3, 2), 5), (1, 6, 5, 7))]


@grader.test("equals an oracle built from F.conv2d, F.max_pool2d and torch.cat with the same weights", points=3)
def oracle_values(ctx):
    """Two blocks given random weights, against the block written with F.conv2d, F.max_pool2d and torch.cat."""
    for i, (args, shape) in enumerate(VALUE_CASES):
        module, what = construct(ctx, *args)
        check_layout(module, what, args)
        p = random_state(args, ctx.device, 100 + i)
        load(module, p)
        X = randn(shape, ctx.device, 200 + i)
        with torch.no_grad():
            got, text = call(ctx, module, what, X)
            expected = oracle(X, p)
        check_against(got, expected, f"{text}, compared with the same block written with F.conv2d, F.max_pool2d and "
                      "torch.cat", lambda: diagnose(got, X, p, expected))


@grader.test("matches the reference solution on the book's 480-channel block at 12x12", points=1, hidden=True)
def reference_values(ctx):
    """Inception(256, 128, (128, 192), (32, 96), 64), the second block of the book's b3, with the reference's weights
    copied into yours, on a (2, 256, 12, 12) input."""
    args = (256, 128, (128, 192), (32, 96), 64)
    module, what = construct(ctx, *args)
    check_layout(module, what, args)
    torch.manual_seed(400)
    ref = ctx.ref("Inception")(*args).to(ctx.device)
    load(module, ref.state_dict())
    X = randn((2, 256, 12, 12), ctx.device, 500)
    with torch.no_grad():
        got, text = call(ctx, module, what, X)
        expected = ref(X)
    check_against(got, expected, f"{text}, compared with the reference solution given the same weights",
                  lambda: None)


@grader.test("gradients reach the input and every parameter as the oracle's do", points=1, hidden=True)
def gradients(ctx):
    """Inception(3, 2, (4, 5), (2, 3), 4) with random weights: the gradient of (out * R).sum() (R fixed and random)
    with respect to x and to every parameter, against the same gradient through the oracle. Only checked when the
    values are right (the value test names wrong values)."""
    args = (3, 2, (4, 5), (2, 3), 4)
    module, what = construct(ctx, *args)
    check_layout(module, what, args)
    p = random_state(args, ctx.device, 900)
    load(module, p)
    X = randn((2, 3, 6, 6), ctx.device, 901).requires_grad_(True)
    got, text = call(ctx, module, what, X)
    p2 = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    X2 = X.detach().clone().requires_grad_(True)
    expected = oracle(X2, p2)
    if got.shape != expected.shape or not torch.allclose(got.detach(), expected.detach(), atol=1e-4, rtol=1e-4):
        return
    R = randn(tuple(expected.shape), ctx.device, 902)
    (expected * R).sum().backward()
    if not got.requires_grad:
        raise TestFailure("the output of {text} does not depend on x through differentiable operations: no .detach(), "
                          ".data or .item() in forward.", text=text, mistake="inception.hidden_from_autograd")
    (got * R).sum().backward()
    grads = {"x": (X.grad, X2.grad)}
    mine = dict(module.named_parameters())
    grads.update({name: (mine[name].grad, p2[name].grad) for name in p})
    for name, (g, want) in grads.items():
        g = torch.zeros_like(want) if g is None else g
        if not torch.allclose(g, want, atol=1e-4, rtol=1e-3):
            raise TestFailure("through {text}, the gradient with respect to {name} differs from the oracle's (largest "
                              "difference {diff:.3g}) although the values are right: part of forward is hidden from "
                              "autograd. No .detach(), .data or .item() in forward.", text=text, name=name,
                              diff=float((g - want).abs().max()), mistake="inception.hidden_from_autograd")


# -- smoke-check -------------------------------------------------------------------------------------------------

SIZE, TRAIN, TEST, BATCH, EPOCHS = 16, 1500, 500, 64, 2
DATA_SEED = 0  # the measurements beside the threshold vary it over 0..9
BLOCK1 = (16, 8, (8, 12), (4, 4), 8)    # 32 channels out
BLOCK2 = (32, 12, (12, 16), (4, 8), 12)  # 48 channels out


class SmallGoogLeNet(nn.Module):
    """A stem (3x3 convolution to 16 channels, batch norm, ReLU, 2x2 max-pool: 16x16 -> 8x8), two Inception blocks
    of the learner (16 -> 32 -> 48 channels), global average pooling and a linear layer to 10 classes."""

    def __init__(self, block1, block2):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                  nn.MaxPool2d(2))
        self.block1 = block1
        self.block2 = block2
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(48, 10))

    def forward(self, X, run=None):
        Y = self.stem(X)
        Y = run(self.block1, Y) if run else self.block1(Y)
        Y = run(self.block2, Y) if run else self.block2(Y)
        return self.head(Y)


def train_net(ctx, net, data, run, report):
    (X, y), (X_test, y_test) = data
    optimizer = Adam(list(net.parameters()), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(3)
    step = 0

    def accuracy():
        net.eval()
        with torch.no_grad():
            acc = (net(X_test, run).argmax(dim=1) == y_test).double().mean().item()
        net.train()
        return acc

    net.train()
    acc = None
    for epoch in range(EPOCHS):
        for Xb, yb in batches(X, y, BATCH, seed=int(torch.randint(0, 10**6, (1,), generator=gen))):
            loss = loss_fn(net(Xb, run), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if not math.isfinite(loss.item()):
                raise TestFailure("the training diverged: at step {step} the loss is {loss}.", step=step,
                                  loss=str(loss.item()))
            if report and acc is None:
                ctx.step(step, loss=loss.item())
            elif report:
                ctx.step(step, loss=loss.item(), accuracy=acc)
        acc = accuracy()
        if report:
            ctx.step(step, loss=loss.item(), accuracy=acc)
    return acc


# threshold: test accuracy after 2 epochs of Adam (48 steps) on 1500 16x16 images, chance 0.1. Over data and start
# seeds 0..9 the reference reaches 0.58 to 0.84 (0.7 s per run on one CPU thread, without the sandbox; the whole
# smoke-check, the learner's run through the sandbox plus the reference's, takes 2.0 s). Without the stem's batch
# norm it reached only 0.39 to 0.78, hence the batch norm. Two narrow blocks behind a ReLU stem are too shallow for
# the value mistakes to hurt: a block without any ReLU reaches 0.68 to 0.91 (the value test names it). What the run
# catches is a block that cannot train: a forward hidden from autograd stops at the first step, a block that does
# not learn stays near 0.1, and a block whose paths change the size fails at torch.cat.
@grader.smoke("a small GoogLeNet of your Inception blocks learns the generated shape images", points=2,
              metric="test accuracy", goal="min", threshold=0.35, budget=20, plot="accuracy", hidden=True)
def googlenet_learns(ctx):
    """A stem, Inception(16, 8, (8, 12), (4, 4), 8), Inception(32, 12, (12, 16), (4, 8), 12), global average pooling
    and a linear layer, trained for 2 epochs (Adam, lr 0.01, batches of 64) on 1500 generated 16x16 images of ten
    shapes and measured on 500 new ones. The reference solution's accuracy on the same data and start is shown
    beside yours."""
    dev = ctx.device
    ctx.seed(0)  # the learner's blocks draw their initial weights in the sandbox
    data = (shape_images(TRAIN, size=SIZE, seed=DATA_SEED, device=dev),
            shape_images(TEST, size=SIZE, seed=DATA_SEED + 1000, device=dev))
    block1, what1 = construct(ctx, *BLOCK1)
    block2, what2 = construct(ctx, *BLOCK2)
    check_layout(block1, what1, BLOCK1)
    check_layout(block2, what2, BLOCK2)
    names = {id(block1): what1, id(block2): what2}
    checked = []

    def run(module, Y):
        if len(checked) >= 2:
            return module(Y)
        out, text = call(ctx, module, names[id(module)], Y)
        if not out.requires_grad and torch.is_grad_enabled():
            raise TestFailure("{text} returned a tensor that autograd cannot differentiate, so the network cannot "
                              "learn: no .detach(), .data or .item() in forward.", text=text,
                              mistake="inception.hidden_from_autograd")
        checked.append(True)
        return out

    torch.manual_seed(DATA_SEED + 1)
    net = SmallGoogLeNet(block1, block2).to(dev)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    mine = train_net(ctx, net, data, run, report=True)

    ref = ctx.ref("Inception")
    theirs_net = SmallGoogLeNet(ref(*BLOCK1), ref(*BLOCK2)).to(dev)
    theirs_net.load_state_dict(state)
    theirs = train_net(ctx, theirs_net, data, None, report=False)
    return {"value": mine, "reference": theirs}
