"""Tests and smoke-check for exercise batch_norm (d2l 7.5).

The oracle is torch.nn.functional.batch_norm (forbidden only in the learner's code) with the book's conventions
translated: its `momentum` is the weight of the NEW batch (1 - the book's), and its running variance takes the
unbiased batch variance where the book's takes the biased one, which the grader takes back out. Prediction mode is
reached as the book reaches it: the learner's code is called under torch.no_grad() (the sandbox runs it in the
verifier's grad mode).
"""

import torch
import torch.nn.functional as F
from torch import nn

from tutor.grading import N_, Grader, TestFailure, check_tensor, check_type, describe
from tutor.grading.data import batches, shape_images
from tutor.grading.harness import LearnerError
from tutor.grading.remote import RemoteError, RemoteModule
from tutor.grading.train import Adam

grader = Grader("batch_norm")


def rand(shape, device, seed, scale=1.0, shift=0.0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    return (shift + scale * torch.randn(shape, generator=gen, dtype=torch.float64)).to(dtype=dtype, device=device)


def params_for(X, seed):
    """gamma, beta, moving_mean, moving_var of the book's shapes for X: (1, C) or (1, C, 1, 1)."""
    C = X.shape[1]
    shape = (1, C) if X.dim() == 2 else (1, C, 1, 1)
    gamma = rand(shape, X.device, seed, 0.5, 1.0, X.dtype)
    beta = rand(shape, X.device, seed + 1, 1.0, 0.0, X.dtype)
    moving_mean = rand(shape, X.device, seed + 2, 1.0, 0.0, X.dtype)
    moving_var = rand(shape, X.device, seed + 3, 0.3, 0.0, X.dtype).abs() + 0.5
    return gamma, beta, moving_mean, moving_var


def flat(t):
    return t.reshape(-1)


def oracle(X, gamma, beta, moving_mean, moving_var, eps, momentum, training):
    """(Y, moving_mean, moving_var) as the book defines them, from F.batch_norm."""
    rm, rv = flat(moving_mean).clone(), flat(moving_var).clone()
    Y = F.batch_norm(X, rm, rv, flat(gamma), flat(beta), training=training, momentum=1.0 - momentum, eps=eps)
    if not training:
        return Y, moving_mean.clone(), moving_var.clone()
    m = X.numel() // X.shape[1]
    old = flat(moving_var)
    # F.batch_norm added (1 - momentum) * var * m / (m - 1): the book adds (1 - momentum) * var
    rv = momentum * old + (rv - momentum * old) * (m - 1) / m
    return Y, rm.reshape(moving_mean.shape), rv.reshape(moving_var.shape)


def manual(X, gamma, beta, eps, dims, unbiased=False, eps_outside=False):
    """Y normalised with batch statistics over `dims` (a known mistake's Y when the arguments say so)."""
    mean = X.mean(dim=dims, keepdim=True)
    var = X.var(dim=dims, keepdim=True, unbiased=unbiased)
    denom = var.sqrt() + eps if eps_outside else (var + eps).sqrt()
    return gamma * (X - mean) / denom + beta


def close(a, b):
    return (isinstance(a, torch.Tensor) and a.shape == b.shape
            and torch.allclose(a.detach().double(), b.detach().double(), rtol=1e-4, atol=1e-4))


def run(ctx, X, gamma, beta, moving_mean, moving_var, eps, momentum, training=True):
    """The learner's batch_norm on copies, in training mode (grad on) or prediction mode (torch.no_grad()); checks
    that it returns three tensors."""
    fn = ctx.fn("batch_norm")
    args = (X, gamma, beta, moving_mean, moving_var, eps, momentum)
    what = fn.describe(*args) + ("" if training else " under torch.no_grad()")
    with torch.set_grad_enabled(training):
        got = fn(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args])
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise TestFailure("{call} returned {got}; it must return three tensors (Y, moving_mean, moving_var), as the "
                          "book's batch_norm does: the caller stores the updated moving statistics.", call=what,
                          got=describe(got), mistake="batch_norm.moving_stats_not_returned")
    for part in got:
        check_type(part, what)
    return got, what


UNBIASED = N_("{call}: Y matches normalisation with the UNBIASED batch variance (dividing by m - 1). Batch "
            "normalisation uses the biased one, the mean of (x - mean)² over the m values (divide by m): "
            "X.var() divides by m - 1 unless you pass unbiased=False (correction=0); ((X - mean) ** 2).mean(...) "
            "is the biased variance.")


def check_y_training(ctx, X, seed, eps=1e-5, momentum=0.9):
    gamma, beta, mm, mv = params_for(X, seed)
    (Y, _, _), what = run(ctx, X, gamma, beta, mm, mv, eps, momentum)
    expected = oracle(X, gamma, beta, mm, mv, eps, momentum, True)[0]
    if close(Y, expected):
        check_tensor(Y, expected, what, atol=1e-4, rtol=1e-4)
        return
    dims = (0,) if X.dim() == 2 else (0, 2, 3)
    if close(Y, manual(X, gamma, beta, eps, dims, unbiased=True)):
        raise TestFailure(UNBIASED, call=what, mistake="batch_norm.unbiased_variance")
    if close(Y, oracle(X, gamma, beta, mm, mv, eps, momentum, False)[0]):
        raise TestFailure("{call}: with autograd on (training mode) Y was normalised with the moving statistics. "
                          "The book decides the mode with torch.is_grad_enabled(): True means training, where the "
                          "batch's own mean and variance are used; False (under torch.no_grad()) means prediction, "
                          "where the moving ones are used. Is the condition reversed?", call=what,
                          mistake="batch_norm.mode_reversed")
    if X.dim() == 4:
        for wrong, label in (((0,), "dim=0"),
                             ((2, 3), "dim=(2, 3)"),
                             ((0, 1, 2, 3), "dim=(0, 1, 2, 3)"),
                             ((1, 2, 3), "dim=(1, 2, 3)")):
            for unbiased in (False, True):
                if close(Y, manual(X, gamma, beta, eps, wrong, unbiased=unbiased)):
                    raise TestFailure("{call}: Y matches statistics taken with {label}. For a convolutional layer's "
                                      "output (N, C, H, W) there is one mean and one variance per CHANNEL, taken over "
                                      "the N · H · W values of that channel: X.mean(dim=(0, 2, 3), keepdim=True).",
                                      call=what, label=label, mistake="batch_norm.wrong_dims_4d")
    check_tensor(Y, expected, what, atol=1e-4, rtol=1e-4)


@grader.test("training mode, 2-D input: each feature normalised with the batch's mean and biased variance",
             points=2)
def training_2d(ctx):
    """X of shape (8, 3) with autograd on; Y is compared with torch.nn.functional.batch_norm(training=True)."""
    check_y_training(ctx, rand((8, 3), ctx.device, 1, 3.0, 2.0), 10)
    check_y_training(ctx, rand((5, 4), ctx.device, 2, 0.5, -1.0), 20)


@grader.test("training mode, 4-D input: each channel normalised over N, H and W", points=2)
def training_4d(ctx):
    """X of shape (4, 3, 5, 5) with autograd on; Y is compared with torch.nn.functional.batch_norm(training=True),
    and the returned moving statistics must keep the shape (1, C, 1, 1)."""
    X = rand((4, 3, 5, 5), ctx.device, 3, 2.0, 1.0)
    check_y_training(ctx, X, 30)
    X = rand((2, 5, 3, 4), ctx.device, 4, 1.0, 0.0)
    check_y_training(ctx, X, 40)
    gamma, beta, mm, mv = params_for(X, 40)
    (_, new_mean, new_var), what = run(ctx, X, gamma, beta, mm, mv, 1e-5, 0.9)
    for label, got in (("moving_mean", new_mean), ("moving_var", new_var)):
        if tuple(got.shape) != tuple(mm.shape):
            raise TestFailure("{call} returned a {label} of shape {shape}; expected {expected}, the shape it was "
                              "given. Take the statistics with keepdim=True: X.mean(dim=(0, 2, 3), keepdim=True) "
                              "has shape (1, C, 1, 1).", call=what, label=label, shape=str(tuple(got.shape)),
                              expected=str(tuple(mm.shape)), mistake="batch_norm.wrong_dims_4d")


@grader.test("the moving statistics: momentum · old + (1 − momentum) · batch, returned updated", points=2)
def moving_statistics(ctx):
    """Training mode, momentum 0.8, moving statistics that are not the initial zeros and ones; the returned
    moving_mean and moving_var are compared with F.batch_norm's running statistics (its momentum is the weight of
    the new batch, 1 - 0.8, and its running variance is made biased again)."""
    momentum = 0.8
    for X, seed in ((rand((6, 3), ctx.device, 5, 2.0, 1.0), 50), (rand((3, 2, 4, 4), ctx.device, 6, 1.5, -1.0), 60)):
        gamma, beta, mm, mv = params_for(X, seed)
        (_, got_mean, got_var), what = run(ctx, X, gamma, beta, mm, mv, 1e-5, momentum)
        _, exp_mean, exp_var = oracle(X, gamma, beta, mm, mv, 1e-5, momentum, True)
        if close(got_mean, exp_mean) and close(got_var, exp_var):
            check_tensor(got_mean, exp_mean, what, atol=1e-4, rtol=1e-4)
            check_tensor(got_var, exp_var, what, atol=1e-4, rtol=1e-4)
            continue
        if close(got_mean, mm) and close(got_var, mv):
            raise TestFailure("{call} returned moving_mean and moving_var unchanged in training mode. Compute the "
                              "updated ones, momentum · moving_mean + (1 − momentum) · mean (the same for the "
                              "variance), and return THOSE: BatchNorm stores what batch_norm returns, so the moving "
                              "statistics otherwise stay zeros and ones and prediction mode normalises with them.",
                              call=what, mistake="batch_norm.moving_stats_not_updated")
        dims = (0,) if X.dim() == 2 else (0, 2, 3)
        bmean = X.mean(dim=dims, keepdim=True).reshape(mm.shape)
        bvar = X.var(dim=dims, keepdim=True, unbiased=False).reshape(mm.shape)
        if close(got_mean, (1 - momentum) * mm + momentum * bmean):
            raise TestFailure("{call} returned moving_mean = {got}, which is (1 − momentum) · old + momentum · "
                              "batch: the momentum convention of nn.BatchNorm2d, where momentum is the weight of the "
                              "NEW batch (0.1 by default). The book's momentum is the weight of the OLD value (0.9): "
                              "momentum · moving_mean + (1 − momentum) · mean, which should give {expected}.",
                              call=what, got=describe(got_mean), expected=describe(exp_mean),
                              mistake="batch_norm.momentum_reversed")
        if close(got_mean, exp_mean):
            unbiased = bvar * X.numel() / X.shape[1] / (X.numel() / X.shape[1] - 1)
            if close(got_var, momentum * mv + (1 - momentum) * unbiased):
                raise TestFailure("{call}: the moving variance was updated with the UNBIASED batch variance "
                                  "(dividing by m - 1). The book uses the biased one (divide by m) both to normalise "
                                  "and in the moving average: X.var() needs unbiased=False.", call=what,
                                  mistake="batch_norm.unbiased_variance")
        check_tensor(got_mean, exp_mean, what + " (moving_mean)", atol=1e-4, rtol=1e-4)
        check_tensor(got_var, exp_var, what + " (moving_var)", atol=1e-4, rtol=1e-4)


@grader.test("prediction mode (under torch.no_grad()): normalised with the moving statistics, returned unchanged",
             points=1, hidden=True)
def prediction_mode(ctx):
    for X, seed in ((rand((6, 3), ctx.device, 7, 2.0, 1.0), 70), (rand((3, 2, 4, 4), ctx.device, 8, 1.5, -1.0), 80)):
        gamma, beta, mm, mv = params_for(X, seed)
        (Y, got_mean, got_var), what = run(ctx, X, gamma, beta, mm, mv, 1e-5, 0.9, training=False)
        expected = oracle(X, gamma, beta, mm, mv, 1e-5, 0.9, False)[0]
        if not close(Y, expected):
            dims = (0,) if X.dim() == 2 else (0, 2, 3)
            for unbiased in (False, True):
                if close(Y, manual(X, gamma, beta, 1e-5, dims, unbiased=unbiased)):
                    raise TestFailure("{call}: Y was normalised with the batch's own mean and variance. Under "
                                      "torch.no_grad() (prediction mode, torch.is_grad_enabled() is False) use the "
                                      "moving statistics: (X - moving_mean) / sqrt(moving_var + eps). A prediction "
                                      "must not depend on which other examples share its batch.", call=what,
                                      mistake="batch_norm.eval_uses_batch_stats")
            check_tensor(Y, expected, what, atol=1e-4, rtol=1e-4)
        if not (close(got_mean, mm) and close(got_var, mv)):
            raise TestFailure("{call} changed the moving statistics in prediction mode: moving_mean {got_mean} "
                              "instead of {mean}. Prediction only reads them; return them as they came.", call=what,
                              got_mean=describe(got_mean), mean=describe(mm))


@grader.test("eps is added to the variance inside the square root", points=1, hidden=True)
def eps_inside_sqrt(ctx):
    """Prediction mode with eps = 0.5 and moving statistics equal to the batch's own (biased) ones, so that only
    where eps goes matters: (X - mean) / sqrt(var + eps), not (X - mean) / (sqrt(var) + eps)."""
    for X in (rand((6, 3), ctx.device, 9, 0.3, 1.0), rand((2, 2, 3, 3), ctx.device, 10, 0.4, 0.0)):
        dims = (0,) if X.dim() == 2 else (0, 2, 3)
        gamma, beta, _, _ = params_for(X, 90)
        mm = X.mean(dim=dims, keepdim=True)
        mv = X.var(dim=dims, keepdim=True, unbiased=False)
        (Y, _, _), what = run(ctx, X, gamma, beta, mm, mv, 0.5, 0.9, training=False)
        expected = oracle(X, gamma, beta, mm, mv, 0.5, 0.9, False)[0]
        if close(Y, expected):
            continue
        if close(Y, manual(X, gamma, beta, 0.5, dims, eps_outside=True)):
            raise TestFailure("{call}: Y matches (X - mean) / (sqrt(var) + eps): eps is added after the square root. "
                              "It belongs inside, (X - mean) / sqrt(var + eps): it keeps the division safe when a "
                              "variance is 0, and it is what every framework computes (the difference is tiny for "
                              "eps = 1e-5 but not for eps = 0.5).", call=what, mistake="batch_norm.eps_outside_sqrt")
        check_tensor(Y, expected, what, atol=1e-4, rtol=1e-4)


def weighted(fn, args, G):
    with torch.enable_grad():
        Y = fn(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args])[0]
    return float((Y.detach().double() * G).sum())


@grader.test("gradients flow back to X, gamma and beta", points=1, hidden=True)
def gradients(ctx):
    """Training mode, float64: autograd's gradients of (Y · G).sum() with respect to X, gamma and beta must match
    central differences of your own batch_norm (h = 1e-6), whatever its values: the statistics must stay part of
    the graph (no .detach() or .data on X, its mean or its variance)."""
    fn = ctx.fn("batch_norm")
    for X0, seed in ((rand((4, 3), ctx.device, 11, 1.0, 0.5, torch.float64), 110),
                     (rand((2, 2, 2, 2), ctx.device, 12, 1.0, 0.0, torch.float64), 120)):
        gamma0, beta0, mm, mv = params_for(X0, seed)
        leaves = [X0.clone().requires_grad_(True), gamma0.clone().requires_grad_(True),
                  beta0.clone().requires_grad_(True)]
        what = fn.describe(X0, gamma0, beta0, mm, mv, 1e-5, 0.9)
        with torch.enable_grad():
            out = fn(*leaves, mm.clone(), mv.clone(), 1e-5, 0.9)
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise TestFailure("{call} must return (Y, moving_mean, moving_var).", call=what)
        Y = out[0]
        check_type(Y, what)
        G = rand(tuple(Y.shape), "cpu", seed + 5, 1.0, 0.0, torch.float64)
        if not Y.requires_grad:
            raise TestFailure("{call} returned a Y that autograd cannot differentiate (requires_grad=False): keep "
                              "every step a tensor operation on X, gamma and beta.", call=what)
        grads = torch.autograd.grad((Y * G.to(Y.device)).sum(), leaves, allow_unused=True)
        for index, label in enumerate(("X", "gamma", "beta")):
            got = grads[index]
            if got is None:
                raise TestFailure("no gradient reaches {label} through {call}.", label=label, call=what)
            base = [X0, gamma0, beta0, mm, mv, 1e-5, 0.9]
            expected = torch.zeros(base[index].shape, dtype=torch.float64)
            for i in range(base[index].numel()):
                vals = []
                for h in (1e-6, -1e-6):
                    args = list(base)
                    bumped = base[index].clone().reshape(-1)
                    bumped[i] += h
                    args[index] = bumped.reshape(base[index].shape)
                    vals.append(weighted(fn, args, G))
                expected.view(-1)[i] = (vals[0] - vals[1]) / 2e-6
            if not torch.allclose(got.detach().cpu().double(), expected, rtol=1e-4, atol=1e-5):
                raise TestFailure("the gradient of (Y · G).sum() with respect to {label}, where Y is the first result "
                                  "of {call}, does not match your own batch_norm: autograd gives {got} but central "
                                  "differences give {expected}. Compute Y from X, gamma and beta with differentiable "
                                  "tensor operations only: the batch mean and variance depend on X, so they must not "
                                  "be detached.", label=label, call=what, got=describe(got.detach().cpu()),
                                  expected=describe(expected))


def build(ctx, num_features, num_dims):
    cls = ctx.fn("BatchNorm")
    what = f"BatchNorm({num_features}, {num_dims})"
    try:
        module = cls(num_features, num_dims)
    except RemoteError as exc:
        raise ctx.explain(exc, what) from None
    if not isinstance(module, RemoteModule) or module.broken:
        raise TestFailure("{what} did not set up an nn.Module: call super().__init__() at the start of __init__.",
                          what=what)
    return module, what


def attribute(module, what, name):
    try:
        value = getattr(module, name)
    except (AttributeError, RemoteError):
        raise TestFailure("{what} has no attribute {name}: the book's BatchNorm keeps gamma, beta, moving_mean and "
                          "moving_var as attributes of these names.", what=what, name=name) from None
    if not isinstance(value, torch.Tensor):
        raise TestFailure("{what}.{name} is {got}, not a tensor.", what=what, name=name, got=describe(value))
    return value.detach().clone()


@grader.test("BatchNorm(num_features, num_dims): gamma ones, beta zeros, moving statistics zeros and ones, "
             "updated by forward", points=1, hidden=True)
def module(ctx):
    """gamma and beta are parameters of shape (1, C) or (1, C, 1, 1); moving_mean and moving_var start as zeros and
    ones; forward gives what your own batch_norm gives with eps=1e-5 and momentum=0.9 (training, twice, then under
    torch.no_grad()), and keeps the moving statistics it returns."""
    fn = ctx.fn("batch_norm")
    for C, dims, X_shape, seed in ((3, 2, (6, 3), 130), (4, 4, (3, 4, 3, 3), 140)):
        bn, what = build(ctx, C, dims)
        shape = (1, C) if dims == 2 else (1, C, 1, 1)
        params = dict(bn.named_parameters())
        for name, value in (("gamma", 1.0), ("beta", 0.0)):
            p = params.get(name)
            if p is None:
                raise TestFailure("{what} has no parameter {name}: assign nn.Parameter(...) to self.{name} so that "
                                  "the optimizer trains it.", what=what, name=name)
            check_tensor(p.detach(), torch.full(shape, value), f"{what}.{name}")
        for name, value in (("moving_mean", 0.0), ("moving_var", 1.0)):
            t = attribute(bn, what, name)
            check_tensor(t, torch.full(shape, value), f"{what}.{name}")
            if name in params:
                raise TestFailure("{what}.{name} is an nn.Parameter: the optimizer would change it. Keep the moving "
                                  "statistics as plain tensors.", what=what, name=name)
        bn.to(ctx.device)
        for step, training in enumerate((True, True, False)):
            X = rand(X_shape, ctx.device, seed + step, 2.0, 1.0)
            gamma, beta = params["gamma"].detach().clone(), params["beta"].detach().clone()
            mm, mv = attribute(bn, what, "moving_mean").to(ctx.device), attribute(bn, what, "moving_var").to(ctx.device)
            with torch.set_grad_enabled(training):
                expected = fn(X, gamma, beta, mm, mv, 1e-5, 0.9)
                try:
                    Y = bn(X.clone())
                except RemoteError as exc:
                    raise ctx.explain(exc, f"{what}({describe(X)})") from None
            call = f"{what}({describe(X)})" + ("" if training else " under torch.no_grad()")
            check_tensor(Y.detach(), expected[0].detach(), call, atol=1e-5, rtol=1e-5)
            for name, exp in (("moving_mean", expected[1]), ("moving_var", expected[2])):
                got = attribute(bn, what, name)
                check_tensor(got.to(ctx.device), exp.detach(), f"{what}.{name} after {call}", atol=1e-5, rtol=1e-5)


# -- smoke-check --------------------------------------------------------------------------------------------------

class Flatten(nn.Module):
    def forward(self, X):
        return X.reshape(X.shape[0], -1)


def lenet(norm):
    """A small ReLU LeNet on 20x20 images (max pooling), with `norm(features, dims)` after each convolution and the
    hidden linear layer (nn.Identity without batch normalisation)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), norm(6, 4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), norm(16, 4), nn.ReLU(), nn.MaxPool2d(2), Flatten(),
        nn.Linear(16 * 3 * 3, 64), norm(64, 2), nn.ReLU(), nn.Linear(64, 10))


def accuracy(net, X, y):
    with torch.no_grad():
        return float((net(X).argmax(dim=1) == y).double().mean())


@grader.smoke("a LeNet with your BatchNorm learns the shape images faster than without", points=2,
              metric="test accuracy", goal="min", threshold=0.5, budget=20, plot="accuracy", hidden=True)
def lenet_learns(ctx):
    """Both nets start from the same weights and see the same 100 minibatches of 32 (Adam, lr 0.01); the test
    accuracy is measured under torch.no_grad() (prediction mode: your moving statistics) every 10 steps.
    Threshold 0.5. At step 100, seeds 0..9 (reference): 0.67 to 0.98 with BatchNorm, 0.62 to 0.94 without (the
    plotted second curve, ahead of it until step 50 or so); moving statistics never updated: about 0.1."""
    gen = ctx.seed(0)
    cls = ctx.fn("BatchNorm")
    X_train, y_train = shape_images(3200, size=20, seed=1)
    X_test, y_test = shape_images(500, size=20, seed=2)
    X_train, y_train = X_train.to(ctx.device), y_train.to(ctx.device)
    X_test, y_test = X_test.to(ctx.device), y_test.to(ctx.device)
    bns = []

    def make_bn(features, dims):
        try:
            m = cls(features, dims)
        except RemoteError as exc:
            raise ctx.explain(exc, f"BatchNorm({features}, {dims})") from None
        bns.append(m)
        return m

    torch.manual_seed(0)
    net = lenet(make_bn).to(ctx.device)
    torch.manual_seed(0)
    plain = lenet(lambda f, d: nn.Identity()).to(ctx.device)
    opt, opt_plain = Adam(net.parameters(), lr=0.01), Adam(plain.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    acc, acc_plain = 0.0, 0.0
    for step, (Xb, yb) in enumerate(batches(X_train, y_train, 32, seed=int(torch.randint(0, 1000, (1,),
                                                                                         generator=gen))), 1):
        for model, optimizer in ((net, opt), (plain, opt_plain)):
            loss = loss_fn(model(Xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if step % 10 == 0:
            acc, acc_plain = accuracy(net, X_test, y_test), accuracy(plain, X_test, y_test)
        ctx.step(step, loss=loss.item(), accuracy=acc, accuracy_without_batch_norm=acc_plain)
    first = bns[0]
    try:
        mean = getattr(first, "moving_mean")
    except (AttributeError, RemoteError):
        mean = None
    if isinstance(mean, torch.Tensor) and bool((mean == 0).all()) and acc < 0.5:
        raise TestFailure("after 100 training steps the first BatchNorm's moving_mean is still all zeros, so "
                          "prediction mode normalises with mean 0 and variance 1 instead of the data's statistics "
                          "(test accuracy {acc:.3f}). forward must store the moving statistics batch_norm returns: "
                          "Y, self.moving_mean, self.moving_var = batch_norm(...).", acc=acc,
                          mistake="batch_norm.moving_stats_not_updated")
    return acc
