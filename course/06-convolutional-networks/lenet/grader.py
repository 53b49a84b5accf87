"""Tests and smoke-check for exercise lenet (d2l 6.5).

lenet() returns a learner nn.Module: the verifier sees a mirror (tutor/grading/remote.py) that holds its parameters
and whose children say their class names; each layer is run on its own in the sandbox for the shape table.
evaluate_accuracy gets the sandbox's own module (`RemoteModule.in_sandbox()`): a small nn.Linear built there, so
that the learner's code can call net.eval() and net.parameters() on a real module, and a plain list
of (X, y) tuples as its data iterator. A forward pre-hook (a function of the grader, called back from the sandbox)
records the mode and device each batch arrives with.

The visible tests check values written in the test (the book's shape table, hand-counted accuracies); no test
compares with the reference.
"""

import math

import torch
import torch.nn.functional as F

from tutor.grading import Grader, TestFailure, check_type, describe
from tutor.grading.data import batches, shape_images
from tutor.grading.remote import RemoteModule

grader = Grader("lenet")

# The book's table (d2l-zh 6.6.1, d2l-en 7.6.1): each layer's class and output shape for a (1, 1, 28, 28) input.
TABLE = [
    ("Conv2d", (1, 6, 28, 28)), ("Sigmoid", (1, 6, 28, 28)), ("AvgPool2d", (1, 6, 14, 14)),
    ("Conv2d", (1, 16, 10, 10)), ("Sigmoid", (1, 16, 10, 10)), ("AvgPool2d", (1, 16, 5, 5)),
    ("Flatten", (1, 400)), ("Linear", (1, 120)), ("Sigmoid", (1, 120)), ("Linear", (1, 84)), ("Sigmoid", (1, 84)),
    ("Linear", (1, 10)),
]
# Parameters per layer: 6·1·5·5 + 6, 16·6·5·5 + 16, 400·120 + 120, 120·84 + 84, 84·10 + 10.
PARAMS = [156, 0, 0, 2416, 0, 0, 0, 48120, 0, 10164, 0, 850]
TOTAL = 61706
SHAPE_TABLE = "the book's shape table: each layer's output for a 1x1x28x28 input"


def build(ctx):
    """lenet() from the learner, checked to be an nn.Sequential."""
    make = ctx.fn("lenet")
    net = make()
    if not isinstance(net, RemoteModule) or net.broken:
        raise TestFailure("lenet() returned {got}, not an nn.Module: return the nn.Sequential you built.",
                          got=describe(net))
    if "torch.nn.modules.container.Sequential" not in net.mro:
        raise TestFailure("lenet() returned a {kind}, not an nn.Sequential: put the 12 layers, in order, in one "
                          "nn.Sequential(...).", kind=net.type_qualname)
    return net


def children(net):
    return [(name, child._get_name()) for name, child in net.named_children()]


def fmt_shape(shape) -> str:
    return str(tuple(shape))


@grader.test("the book's shape table: each layer's output for a 1x1x28x28 input", points=2)  # SHAPE_TABLE
def shape_table(ctx):
    """Each of the 12 layers, run on the previous one's output, gives the book's shape: (1, 6, 28, 28) after the first
    convolution (padding 2 keeps 28 x 28), (1, 16, 5, 5) after the second pooling, (1, 400) after the flatten, ...,
    (1, 10) at the end. Only the shapes count here; the next test checks the kinds of layer."""
    net = build(ctx)
    layers = children(net)
    X = torch.rand((1, 1, 28, 28), generator=torch.Generator().manual_seed(0)).to(ctx.device)
    for i, (name, kind) in enumerate(layers):
        if i >= len(TABLE):
            raise TestFailure("your LeNet has {count} layers; the book's has 12, the last a Linear layer to 10 outputs "
                              "(the logits, with no activation after it).", count=len(layers))
        layer = net.in_sandbox().get_submodule(name)
        what = f"layer {i + 1} ({kind}) on {describe(X)}"
        try:
            with torch.no_grad():
                out = layer(X)
        except Exception as exc:  # noqa: BLE001 - the learner's layer raised: say which and why
            failure = ctx.explain(exc, what)
            if kind == "Linear" and X.dim() == 2 and i == 7 and tuple(X.shape) == (1, 400):
                in_features = int(layer.weight.shape[1]) if hasattr(layer, "weight") else -1
                raise TestFailure("{what} failed: that fully connected layer takes {in_features} inputs, but the "
                                  "flatten gives 400 = 16 channels × 5 × 5. With padding=2 on the first convolution, "
                                  "the second pooling leaves 16 × 5 × 5, so the first Linear is nn.Linear(16 * 5 * 5, "
                                  "120).", what=what, in_features=in_features, mistake="lenet.flatten_size") from None
            raise failure from None
        check_type(out, what)
        expected_kind, expected = TABLE[i]
        if tuple(out.shape) != expected:
            if i == 0 and tuple(out.shape) == (1, 6, 24, 24):
                raise TestFailure("the first convolution turns the 28 × 28 input into 24 × 24; the book's gives "
                                  "(1, 6, 28, 28). A 5 × 5 kernel without padding loses 4 rows and 4 columns "
                                  "(28 − 5 + 1 = 24): pad by 2 on each side, nn.Conv2d(1, 6, kernel_size=5, "
                                  "padding=2). Without it the second pooling leaves 16 × 4 × 4 = 256 values, not "
                                  "the 400 that the first Linear layer expects.", mistake="lenet.missing_padding")
            table = "\n".join(f"    {j + 1:2d}. {k:<10} {fmt_shape(s)}" for j, (k, s) in enumerate(TABLE))
            raise TestFailure("layer {index} ({kind}) gives shape {got}, but the book's table has {expected} there "
                              "(after a {expected_kind}). The whole table:\n{table}", index=i + 1, kind=kind,
                              got=fmt_shape(out.shape), expected=fmt_shape(expected), expected_kind=expected_kind,
                              table=table)
        X = out
    if len(layers) < len(TABLE):
        raise TestFailure("your LeNet has {count} layers; the book's has 12, the last a Linear layer to 10 outputs.",
                          count=len(layers))


@grader.test("sigmoid activations and average pooling, as in the book's LeNet", points=2, hidden=True)
def layer_kinds(ctx):
    """The 12 layers are Conv2d, Sigmoid, AvgPool2d, Conv2d, Sigmoid, AvgPool2d, Flatten, Linear, Sigmoid, Linear,
    Sigmoid, Linear (the class names of the modules in the nn.Sequential)."""
    net = build(ctx)
    kinds = [kind for _, kind in children(net)]
    expected = [kind for kind, _ in TABLE]
    if kinds == expected:
        return
    if "ReLU" in kinds and "Sigmoid" not in kinds:
        raise TestFailure("your LeNet uses ReLU activations; the book's LeNet uses sigmoids (nn.Sigmoid()), after "
                          "each convolution and after the first two fully connected layers, as LeCun's network did "
                          "in 1998. ReLU came later (AlexNet, chapter 7) and trains faster, but this exercise builds "
                          "the book's network: change each nn.ReLU() to nn.Sigmoid().",
                          mistake="lenet.relu_instead_of_sigmoid")
    if "MaxPool2d" in kinds and "AvgPool2d" not in kinds:
        raise TestFailure("your LeNet uses max pooling; the book's LeNet uses average pooling, "
                          "nn.AvgPool2d(kernel_size=2, stride=2), after each convolution block. Max pooling became "
                          "the usual choice later; this exercise builds the book's network.",
                          mistake="lenet.max_pooling")
    raise TestFailure("your LeNet's layers are {got}; the book's are {expected}.", got=", ".join(kinds),
                      expected=", ".join(expected))


@grader.test("61,706 parameters", points=1, hidden=True)
def parameter_count(ctx):
    """The parameters of all layers together, counted from the module's parameters()."""
    net = build(ctx)
    total = sum(p.numel() for p in net.parameters())
    if total == TOTAL:
        return
    counts = [sum(p.numel() for p in child.parameters()) for child in net.children()]
    linears = [child for child in net.children() if child._get_name() == "Linear"]
    if linears and "weight" in linears[0]._parameters and int(linears[0].weight.shape[1]) != 400:
        raise TestFailure("your LeNet has {total} parameters, not 61,706: its first fully connected layer takes "
                          "{in_features} inputs instead of 400 = 16 × 5 × 5 (the size of the flattened output of the "
                          "second pooling for a 28 × 28 input with padding=2 on the first convolution).",
                          total=f"{total:,}", in_features=int(linears[0].weight.shape[1]),
                          mistake="lenet.flatten_size")
    raise TestFailure("your LeNet has {total} parameters, not 61,706. Per layer you have {got}; the book's LeNet has "
                      "{expected}.", total=f"{total:,}", got=", ".join(str(c) for c in counts),
                      expected=", ".join(str(c) for c in PARAMS))


# -- evaluate_accuracy ---------------------------------------------------------------------------------------------

def identity_net(ctx, device="cpu"):
    """nn.Linear(3, 3) with the identity as its weight and a zero bias, built in the sandbox (in training mode): its
    logits are its inputs, so each row's prediction is the index of its largest entry."""
    linear = ctx.link.import_module("torch.nn").Linear(3, 3)
    sandbox_net = linear.in_sandbox()
    sandbox_net.load_state_dict({"weight": torch.eye(3), "bias": torch.zeros(3)})
    sandbox_net.train()
    if str(device) != "cpu":
        sandbox_net.to(device)
    return sandbox_net


def rows(*labels_and_hits):
    """A batch (X, y): one row per (label, correct) pair; X's largest entry is at the label when correct, else at
    the next class."""
    X = torch.zeros(len(labels_and_hits), 3)
    y = torch.tensor([label for label, _ in labels_and_hits], dtype=torch.int64)
    for i, (label, hit) in enumerate(labels_and_hits):
        X[i, label if hit else (label + 1) % 3] = 2.0
        X[i, (label + 2) % 3] = 1.0
    return X, y


def accuracy_of(ctx, data, expected, what):
    evaluate = ctx.fn("evaluate_accuracy")
    got = evaluate(identity_net(ctx), data)
    try:
        value = float(got)
    except (TypeError, ValueError, RuntimeError):
        raise TestFailure("{call} returned {got}; it should return a number (a Python float), the fraction of "
                          "correct predictions.", call=what, got=describe(got)) from None
    return value


BATCHES = "evaluate_accuracy: a list of (X, y) batches of 4, with 5 of 8 examples right"


@grader.test("evaluate_accuracy: a list of (X, y) batches of 4, with 5 of 8 examples right", points=1)  # BATCHES
def counts_correct(ctx):
    """The net is a 3-class nn.Linear whose logits are its inputs; two batches of 4 examples, 3 and 2 of them
    predicted right: the result is 5 / 8 = 0.625."""
    data = [rows((0, True), (1, True), (2, True), (0, False)), rows((1, True), (2, False), (0, True), (1, False))]
    what = "evaluate_accuracy(net, [(X1, y1), (X2, y2)])  (batches of 4; 3 and 2 predictions right)"
    value = accuracy_of(ctx, data, 0.625, what)
    if not math.isclose(value, 0.625, abs_tol=1e-6):
        raise TestFailure("{call} returned {got}, but 5 of the 8 examples are predicted right: 0.625. A prediction "
                          "is net(X).argmax(dim=1); count the predictions equal to y over all batches and divide by "
                          "the number of examples.", call=what, got=f"{value:.6g}")


@grader.test("evaluate_accuracy: a last batch of 2 counts as 2 examples, not as a whole batch", points=1, hidden=True)
def uneven_batches(ctx):
    """Batches of 4, 4 and 2 examples with 4, 1 and 0 right: 5 / 10 = 0.5. Averaging the per-batch accuracies
    gives (1 + 0.25 + 0) / 3 ≈ 0.4167 instead."""
    data = [rows((0, True), (1, True), (2, True), (0, True)), rows((1, True), (2, False), (0, False), (1, False)),
            rows((2, False), (0, False))]
    what = "evaluate_accuracy(net, [(X1, y1), (X2, y2), (X3, y3)])  (batches of 4, 4 and 2; 4, 1 and 0 right)"
    value = accuracy_of(ctx, data, 0.5, what)
    if math.isclose(value, 5 / 12, abs_tol=1e-4):
        raise TestFailure("{call} returned {got}: the mean of the three batches' accuracies (1 + 0.25 + 0) / 3. The "
                          "last batch holds only 2 examples, so averaging per batch gives each of them the weight of "
                          "2 examples. Add up the correct predictions and the number of examples over all batches, "
                          "and divide once at the end: 5 / 10 = 0.5 (the book's Accumulator(2) does this).",
                          call=what, got=f"{value:.6g}", mistake="lenet.averaged_batch_accuracy")
    if not math.isclose(value, 0.5, abs_tol=1e-6):
        raise TestFailure("{call} returned {got}, but 5 of the 10 examples are predicted right: 0.5.", call=what,
                          got=f"{value:.6g}")


class _Seen(Exception):
    """Raised by the probe hook once it has seen the first batch: the rest of the call is not needed."""


def first_batch(ctx, net, data, device=None, stop=False):
    """Call evaluate_accuracy(net, data[, device]) with a forward pre-hook on net that records (training, X's device)
    for each batch; with `stop`, the call ends at the first batch."""
    seen = []

    def hook(module, inputs):
        seen.append((bool(module.training), str(inputs[0].device) if inputs else "?"))
        if stop:
            raise _Seen()

    handle = net.register_forward_pre_hook(hook)
    evaluate = ctx.fn("evaluate_accuracy")
    try:
        if device is None:
            evaluate(net, data)
        else:
            evaluate(net, data, device)
    except _Seen:
        pass
    finally:
        handle.remove()
    return seen


@grader.test("evaluate_accuracy puts the net in evaluation mode", points=1, hidden=True)
def eval_mode(ctx):
    """The net is in training mode when evaluate_accuracy gets it; it must be in evaluation mode when it sees the
    first batch (dropout and batch normalization behave differently in the two modes)."""
    data = [rows((0, True), (1, True)), rows((2, True), (0, False))]
    seen = first_batch(ctx, identity_net(ctx), data)
    if not seen:
        raise TestFailure("evaluate_accuracy(net, data) never called net on the batches of data.")
    if seen[0][0]:
        raise TestFailure("evaluate_accuracy(net, data) ran net in training mode: the net came in training mode "
                          "and your code never switched it. Call net.eval() before the first batch: in training mode "
                          "dropout drops units and batch normalization uses the batch's statistics, so the accuracy "
                          "you report would not be the model's.", mistake="lenet.no_eval")


@grader.test("evaluate_accuracy moves each batch to the net's device (or to device=)", points=1, hidden=True)
def moves_to_device(ctx):
    """The batches are on the CPU. With device=None, X must reach the net on the device of the net's parameters;
    with device given, on that device. On a CPU-only run, PyTorch's "meta" device stands in for a GPU (only the
    device X arrives on is checked, at the first batch)."""
    other = "meta" if ctx.device.type == "cpu" else str(ctx.device)
    data = [rows((0, True), (1, True)), rows((2, True), (0, False))]
    seen = first_batch(ctx, identity_net(ctx, other), data, stop=True)
    if not seen:
        raise TestFailure("evaluate_accuracy(net, data) never called net on the batches of data.")
    if seen[0][1].split(":")[0] != other.split(":")[0]:
        raise TestFailure("the net's parameters are on {device} and device=None, but the first batch reached the net "
                          "on {got}. When device is None, take the device of the net's parameters, "
                          "next(iter(net.parameters())).device, and move X and y there with .to(device).",
                          device=other, got=seen[0][1], mistake="lenet.ignores_net_device")
    seen = first_batch(ctx, identity_net(ctx), data, device=torch.device(other), stop=True)
    if seen and seen[0][1].split(":")[0] != other.split(":")[0]:
        raise TestFailure("evaluate_accuracy(net, data, device={device}) gave the net its first batch on {got}: move "
                          "X and y to the device you are given.", device=other, got=seen[0][1])


# -- smoke-check ---------------------------------------------------------------------------------------------------

# The grader's training loop: the book's train_ch6 with Adam instead of SGD (Xavier-uniform initialisation of the
# convolution and linear weights, zero biases, cross-entropy loss), on the generated shape images
# (tutor/grading/data.py) kept within 3 pixels of the centre and standardized ((X - 0.1) * 5: the images are mostly 0
# with noise 0.1). The book's sigmoid LeNet learns slowly: with the shapes anywhere in the image it sits at chance for
# hundreds of steps. Adam with beta1 = 0.5 (a short momentum) leaves the plateau fastest. Measured in plain torch over
# data seeds 0..9: the reference reaches 0.39 to 0.49 held-out accuracy after 100 steps of 128 (chance 0.10); plain
# SGD with momentum stays at 0.07 to 0.12, RMSProp 0.10 to 0.32, Adam with the default betas 0.10 to 0.50.
STEPS, BATCH, LR, BETAS, SPREAD, SHIFT, SCALE = 100, 128, 0.01, (0.5, 0.999), 3, 0.1, 5.0


def xavier_(net):
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for child in net.children():
            if child._get_name() in ("Linear", "Conv2d") and "weight" in child._parameters:
                w = child.weight
                receptive = w[0, 0].numel() if w.dim() > 2 else 1
                fan_in, fan_out = w.shape[1] * receptive, w.shape[0] * receptive
                bound = math.sqrt(6.0 / (fan_in + fan_out))
                w.copy_((torch.rand(w.shape, generator=gen) * 2 - 1).mul_(bound).to(w.device))
                if child._parameters.get("bias") is not None:
                    child.bias.zero_()


@grader.smoke("your LeNet learns the generated shape images", points=3, metric="held-out accuracy", goal="min",
              threshold=0.25, budget=40, plot="accuracy", hidden=True)  # chance 0.1; reference 0.39 to 0.49
def learns_shapes(ctx):
    """The grader's loop trains your LeNet with Adam on the generated 28 x 28 shape images; the accuracy on 500
    held-out images must reach the threshold."""
    ctx.seed(0)
    net = build(ctx).to(ctx.device)
    xavier_(net)
    X, y = shape_images(STEPS * BATCH, seed=1, spread=SPREAD, device=ctx.device)
    X_test, y_test = shape_images(500, seed=2, spread=SPREAD, device=ctx.device)
    X, X_test = (X - SHIFT) * SCALE, (X_test - SHIFT) * SCALE
    optimizer = torch.optim.Adam(net.parameters(), lr=LR, betas=BETAS)
    net.train()
    for step, (X_b, y_b) in enumerate(batches(X, y, BATCH, seed=3), start=1):
        logits = net(X_b)
        if step == 1:
            check_type(logits, f"net(X) for X: {describe(X_b)}")
            if tuple(logits.shape) != (BATCH, 10):
                raise TestFailure("your LeNet maps a batch of shape {x_shape} to {got}; it should give (batch, 10) "
                                  "logits (see the test \"{test}\").", x_shape=fmt_shape(X_b.shape),
                                  got=fmt_shape(logits.shape), test=SHAPE_TABLE)
        loss = F.cross_entropy(logits, y_b)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if not math.isfinite(loss.item()):
            raise TestFailure("the training diverged: at step {step} the loss is {loss}.", step=step,
                              loss=str(loss.item()))
        accuracy = float((logits.detach().argmax(dim=1) == y_b).float().mean())
        ctx.step(step, loss=loss.item(), accuracy=accuracy)
    net.eval()
    with torch.no_grad():
        return float((net(X_test).argmax(dim=1) == y_test).float().mean())
