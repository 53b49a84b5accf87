"""Tests and smoke-check for exercise weight_decay (d2l 4.4).

The visible tests (also in the student build) check values written in the test, or the learner's own function
against itself; the hidden ones add the shapes, the division by batch_size, the zeroed gradients, the graph and the
book's experiment. None of them needs the reference solution.

How sgd is tested. Tensors reach the learner's process as copies, and a tensor's .grad does not travel with it, so a
plain list of tensors would reach sgd with every .grad None. The grader therefore builds the parameter list in the
learner's process (class Params): a collections.UserList (a list in all but name: iteration, len, indexing and item
assignment work) holding the parameters, a second UserList holding the same tensor objects out of sgd's reach (so that
the caller's tensors can be read back even when sgd replaces the list's entries), and torch.autograd.backward on those
tensors with the gradients the test chooses, which leaves each one's .grad exactly as loss.backward() would.
"""

import math

import torch

from tutor.grading import N_, Grader, TestFailure, check_type, fmt_tensor
from tutor.grading.harness import LearnerError

grader = Grader("weight_decay")

IN_PLACE = "sgd updates the caller's tensors in place: param - lr * grad"  # the first sgd test, named by the others


class Params:
    """A list of parameters that lives in the learner's process, with their .grad set there (see the module's
    docstring). `given` is what sgd gets; `kept` holds the same tensors, out of sgd's reach."""

    def __init__(self, ctx, tensors):
        user_list = ctx.link.import_module("collections").UserList
        self._autograd = ctx.link.import_module("torch.autograd")
        self._utils = ctx.link.import_module("torch.nn.utils")
        self.given = user_list([t.detach().clone().requires_grad_(True) for t in tensors])
        self.kept = user_list(self.given)

    def backward(self, grads) -> None:
        """Add `grads` to the parameters' .grad, as loss.backward() does."""
        with torch.no_grad():
            self._autograd.backward(self.kept, grad_tensors=[g.detach() for g in grads])

    def tensors(self):
        """Copies of the caller's tensors as they are now (requires_grad and leaf-ness included)."""
        return list(self.kept.data)

    def values(self):
        return [t.detach() for t in self.tensors()]

    def listed(self):
        """Copies of what the list handed to sgd holds now (sgd may have put other tensors into it)."""
        return [t.detach() for t in self.given.data]

    def max_grad(self) -> float:
        """The largest |element| of any parameter's .grad (0 when every .grad is zero or None)."""
        with torch.no_grad():
            return float(self._utils.clip_grad_norm_(self.kept, math.inf, norm_type=math.inf))


def sgd_call(lr, batch_size, names=("w", "b")) -> str:
    return f"sgd([{', '.join(names)}], lr={lr:g}, batch_size={batch_size})"


def grads_text(names, grads) -> str:
    return ", ".join(f"{n}.grad = {fmt_tensor(g)}" for n, g in zip(names, grads))


REBINDS = N_("{call} raised {error}: the gradient was None. Every parameter had its gradient when sgd was called, so "
           "the tensor whose .grad your code read is a NEW one: the loop rebinds its variable (param = param - "
           "lr * param.grad / batch_size, or params[i] = ...). That makes a new tensor without a gradient, and the "
           "caller's w and b are never changed. Change each tensor in place instead: param -= lr * param.grad / "
           "batch_size (inside torch.no_grad()), then param.grad.zero_().")
REBINDS_AGAIN = N_("{call} raised {error}: the gradient was None because the loop rebinds its variable instead of "
                 "changing the caller's tensor in place (see the test \"{test}\").")


def run_sgd(ctx, P, lr, batch_size, *, grad_mode=False, first=False, names=("w", "b")):
    """The learner's sgd on P's list. grad_mode=False (the default) runs it with autograd off, as if inside
    torch.no_grad(): only the test 'the update is done under torch.no_grad()' runs it the way a training loop does."""
    fn = ctx.fn("sgd")
    call = sgd_call(lr, batch_size, names)
    try:
        with torch.set_grad_enabled(grad_mode):
            fn(P.given, lr, batch_size)
    except LearnerError as err:
        text = err.remote.message if err.remote is not None else ""
        if "'NoneType' object has no attribute" in text:
            error = f"{err.remote.type_name}: {text.splitlines()[0][:200]}"
            if first:
                raise TestFailure(REBINDS, call=call, error=error, mistake="weight_decay.not_in_place") from None
            raise TestFailure(REBINDS_AGAIN, call=call, error=error, test=IN_PLACE,
                              mistake="weight_decay.not_in_place") from None
        raise
    return call


def fresh(ctx, values, grads):
    """Params in the learner's process with these values and these gradients."""
    P = Params(ctx, [v.to(ctx.device) for v in values])
    P.backward([g.to(ctx.device) for g in grads])
    return P


# -- l2_penalty ---------------------------------------------------------------------------------------------------


def scalar_value(got, what) -> float:
    check_type(got, what)
    if got.numel() != 1:
        raise TestFailure("{call} returned a tensor of shape {shape}; the penalty is ONE number for the whole "
                          "weight: sum over every element, with no dim= argument.", call=what,
                          shape=str(tuple(got.shape)))
    return float(got.detach().reshape(()))


@grader.test("l2_penalty([3, -4, 12]) = (9 + 16 + 144) / 2 = 84.5", points=2)
def penalty_value(ctx):
    """A vector whose squares sum to 169: every usual slip gives a different number (169, 19, 13, 56.3, ...)."""
    fn = ctx.fn("l2_penalty")
    w = torch.tensor([3.0, -4.0, 12.0], device=ctx.device)
    what = fn.describe(w)
    got = scalar_value(fn(w.clone()), what)
    expected = 84.5
    if math.isclose(got, expected, rel_tol=1e-5):
        return
    params = dict(call=what, got=got, expected=expected)
    if math.isclose(got, 169.0, rel_tol=1e-5):
        raise TestFailure("{call} returned {got:g}; expected {expected:g}. That is the sum of the squares without the "
                          "1/2: divide by 2. The 1/2 makes the penalty's gradient exactly w (the 2 of w² cancels), "
                          "which is the convention the book and its lambd values assume.",
                          mistake="weight_decay.missing_half", **params)
    if math.isclose(got, 19.0, rel_tol=1e-5) or math.isclose(got, 9.5, rel_tol=1e-5):
        raise TestFailure("{call} returned {got:g}; expected {expected:g}. That is built from the absolute values "
                          "(3 + 4 + 12 = 19): an L1 penalty, which pushes weights to exactly zero, a different "
                          "regularizer. Weight decay squares each element: (9 + 16 + 144) / 2.",
                          mistake="weight_decay.l1_penalty", **params)
    if math.isclose(got, 169.0 / 3 / 2, rel_tol=1e-5) or math.isclose(got, 169.0 / 3, rel_tol=1e-5):
        raise TestFailure("{call} returned {got:g}; expected {expected:g}. That uses the MEAN of the squares (169 / 3 "
                          "= 56.33): the penalty would then shrink as the model grows, and for the book's 200 weights "
                          "it is 200 times too weak. SUM the squares (torch.sum), then halve.",
                          mistake="weight_decay.mean_not_sum", **params)
    if math.isclose(got, 13.0, rel_tol=1e-5) or math.isclose(got, 6.5, rel_tol=1e-5):
        raise TestFailure("{call} returned {got:g}; expected {expected:g}. That is the norm ||w|| = 13 itself, not "
                          "its square: torch.norm(w) takes the square root. The penalty is ||w||² / 2 = "
                          "torch.sum(w ** 2) / 2, whose gradient is w.", mistake="weight_decay.norm_not_squared",
                          **params)
    raise TestFailure("{call} returned {got:g}; expected {expected:g} = (3² + (-4)² + 12²) / 2: square every element, "
                      "sum, halve.", **params)


@grader.test("a weight matrix gives a 0-dim tensor: the penalty of all its entries, in w's dtype", points=1, hidden=True)
def penalty_any_shape(ctx):
    """A (3, 4) float64 weight: the result is 0-dim, float64, on w's device, and equals the learner's own penalty of
    the same 12 numbers as a vector (so a wrong formula costs only the value test). On a CPU run the device is also
    checked with w on PyTorch's "meta" device (a stand-in for a GPU)."""
    fn = ctx.fn("l2_penalty")
    gen = torch.Generator().manual_seed(4)
    W = torch.randint(-5, 6, (3, 4), generator=gen).to(dtype=torch.float64, device=ctx.device)
    what = fn.describe(W)
    got = fn(W.clone())
    check_type(got, what)
    if got.dim() != 0:
        raise TestFailure("{call} returned a tensor of shape {shape}; expected a 0-dim tensor (shape ()). Sum over "
                          "ALL elements, with no dim= argument: a weight matrix has one penalty, not one per row or "
                          "column.", call=what, shape=str(tuple(got.shape)))
    if got.dtype != W.dtype:
        raise TestFailure("{call} returned dtype {dtype}; expected w's dtype {expected}. Compute with w's own "
                          "operations (torch.sum(w ** 2) / 2) rather than building a new tensor.", call=what,
                          dtype=str(got.dtype), expected=str(W.dtype))
    if got.device != W.device:
        raise TestFailure("{call} returned a tensor on {device}, but w is on {expected}.", call=what,
                          device=str(got.device), expected=str(W.device))
    flat = fn(W.reshape(-1).clone())
    check_type(flat, fn.describe(W.reshape(-1)))
    if not torch.allclose(got.detach().reshape(()).double(), flat.detach().reshape(-1)[0].double(), rtol=1e-9):
        raise TestFailure("{call} returned {got:.6g}, but your penalty of the same 12 numbers as a vector is {flat:.6g}. "
                          "The penalty counts every element once, whatever w's shape: sum over all of them.",
                          call=what, got=float(got.detach().reshape(())), flat=float(flat.detach().reshape(-1)[0]))
    ctx.device_probe("l2_penalty", lambda dev: (torch.ones(3, 2, device=dev),))


@grader.test("autograd differentiates l2_penalty: its gradient matches its slope", points=1)
def penalty_gradient(ctx):
    """Autograd's gradient of your l2_penalty at w (float64) must match the slope of your own function, measured by
    central differences (exact for a quadratic). For ||w||² / 2 that gradient is w itself; a wrong formula is the
    business of the value test, this one checks that the penalty stays in autograd's graph."""
    fn = ctx.fn("l2_penalty")
    w0 = torch.tensor([3.0, -4.0, 12.0, 0.5], dtype=torch.float64, device=ctx.device)
    w = w0.clone().requires_grad_(True)
    what = fn.describe(w)
    got = fn(w)
    scalar_value(got, what)
    if not got.requires_grad:
        raise TestFailure("{call} returned a tensor that autograd cannot differentiate (requires_grad=False), so "
                          "weight decay would never reach w: the training loop adds lambd * l2_penalty(w) to the "
                          "loss and calls backward(). Keep it a tensor expression in w: no .item(), float(...), "
                          ".detach(), .numpy() or torch.tensor(...).", call=what,
                          mistake="weight_decay.penalty_not_differentiable")
    (grad,) = torch.autograd.grad(got.reshape(()), w, allow_unused=True)
    if grad is None or not bool((grad != 0).any()):
        raise TestFailure("no gradient reaches w through {call}: the result does not depend on w through "
                          "differentiable tensor operations.", call=what,
                          mistake="weight_decay.penalty_not_differentiable")
    h = 1e-3
    slope = torch.zeros_like(w0)
    for i in range(w0.numel()):
        up, down = w0.clone(), w0.clone()
        up[i] += h
        down[i] -= h
        slope[i] = (scalar_value(fn(up), fn.describe(up)) - scalar_value(fn(down), fn.describe(down))) / (2 * h)
    if not torch.allclose(grad.detach().double(), slope, rtol=1e-5, atol=1e-6):
        raise TestFailure("autograd's gradient of {call} is {grad}, but your function's own slope (central "
                          "differences) is {slope}. Compute the penalty from w with differentiable tensor operations "
                          "only (no .detach(), .data or custom backward).", call=what, grad=fmt_tensor(grad.detach()),
                          slope=fmt_tensor(slope))


# -- sgd ----------------------------------------------------------------------------------------------------------


def changed(a, b) -> bool:
    return not torch.equal(a, b)


@grader.test("sgd updates the caller's tensors in place: param - lr * grad", points=2)  # IN_PLACE, spelled out
def sgd_in_place(ctx):
    """w = [1, 2, 3] with gradient [4, -8, 12] and b = [0.5] with gradient [2], lr = 0.1, batch_size = 1: the
    caller's own tensors (the same objects) become w = [0.6, 2.8, 1.8] and b = [0.3]."""
    w0 = torch.tensor([1.0, 2.0, 3.0])
    b0 = torch.tensor([0.5])
    gw, gb = torch.tensor([4.0, -8.0, 12.0]), torch.tensor([2.0])
    P = fresh(ctx, [w0, b0], [gw, gb])
    call = run_sgd(ctx, P, 0.1, 1, first=True)
    after = [t.cpu() for t in P.values()]
    expected = [torch.tensor([0.6, 2.8, 1.8]), torch.tensor([0.3])]
    if all(torch.allclose(a, e, rtol=1e-5, atol=1e-6) for a, e in zip(after, expected)):
        return
    where = grads_text(("w", "b"), (gw, gb))
    params = dict(call=call, grads=where, w=fmt_tensor(after[0]), b=fmt_tensor(after[1]),
                  ew=fmt_tensor(expected[0]), eb=fmt_tensor(expected[1]))
    if not any(changed(a, v) for a, v in zip(after, (w0, b0))):
        listed = [t.cpu() for t in P.listed()]
        if any(changed(x, v) for x, v in zip(listed, (w0, b0))):
            raise TestFailure("{call} ({grads}) put NEW tensors into the list instead of changing the caller's: after "
                              "the call the list holds other values, but the caller's w and b (the tensors the model "
                              "uses) are still {w} and {b}; expected {ew} and {eb}. params[i] = params[i] - ... "
                              "replaces an entry of the list. Change each tensor in place: param -= lr * param.grad / "
                              "batch_size.", mistake="weight_decay.not_in_place", **params)
        raise TestFailure("{call} ({grads}) left the caller's tensors unchanged: w is still {w} and b is still {b}; "
                          "expected {ew} and {eb}. A loop that says param = param - ... only rebinds its variable: "
                          "change each tensor in place (param -= lr * param.grad / batch_size, inside "
                          "torch.no_grad()). And zero the gradient after the update, not before it.",
                          mistake="weight_decay.not_in_place", **params)
    flipped = [v + 0.1 * g for v, g in zip((w0, b0), (gw, gb))]
    if all(torch.allclose(a, f, rtol=1e-5, atol=1e-6) for a, f in zip(after, flipped)):
        raise TestFailure("{call} ({grads}) gave w = {w} and b = {b}; expected {ew} and {eb}. The step goes the wrong "
                          "way: the gradient points uphill, so SUBTRACT lr * grad / batch_size.", **params)
    raise TestFailure("{call} ({grads}) gave w = {w} and b = {b}; expected {ew} and {eb} (param - lr * grad / "
                      "batch_size with batch_size = 1).", **params)


@grader.test("the step is divided by batch_size", points=1, hidden=True)
def sgd_divides(ctx):
    """The same parameters and gradients, stepped once with batch_size = 1 and once with batch_size = 4 by your sgd:
    the second step must be a quarter of the first (so a wrong step itself is the business of the first sgd test)."""
    gen = torch.Generator().manual_seed(5)
    w0 = torch.randint(-3, 4, (4,), generator=gen).float()
    b0 = torch.tensor([1.0])
    gw = torch.tensor([4.0, -8.0, 2.0, 6.0])
    gb = torch.tensor([-4.0])
    lr = 0.5
    steps = {}
    for bs in (1, 4):
        P = fresh(ctx, [w0, b0], [gw, gb])
        run_sgd(ctx, P, lr, bs)
        steps[bs] = [(v - a.cpu()) for v, a in zip((w0, b0), P.values())]
    one, four = torch.cat(steps[1]), torch.cat(steps[4])
    params = dict(call=sgd_call(lr, 4), grads=grads_text(("w", "b"), (gw, gb)), one=fmt_tensor(one),
                  four=fmt_tensor(four), expected=fmt_tensor(one / 4))
    if not bool((one != 0).any()):
        raise TestFailure("with batch_size = 1 your sgd did not move the parameters at all, so the division by "
                          "batch_size cannot be judged: fix the test \"{test}\" first.", test=IN_PLACE)
    if torch.allclose(four, one / 4, rtol=1e-5, atol=1e-6):
        return
    if torch.allclose(four, one, rtol=1e-5, atol=1e-6):
        raise TestFailure("{call} ({grads}) moved [w, b] by {four}, exactly as far as with batch_size = 1; expected "
                          "a quarter of that, {expected}. Divide by batch_size: .grad holds the gradient of the SUM "
                          "of the minibatch's losses (the book calls l.sum().backward()), and dividing by the "
                          "number of examples turns it into the mean, so the step size does not grow with the "
                          "batch.", mistake="weight_decay.no_batch_size_division", **params)
    raise TestFailure("{call} ({grads}) moved [w, b] by {four}; with batch_size = 1 your sgd moved them by {one}, so "
                      "with batch_size = 4 the step must be a quarter of that: {expected}. The update is "
                      "lr * param.grad / batch_size.", **params)


@grader.test("sgd zeroes every gradient after the step", points=1, hidden=True)
def sgd_zeroes(ctx):
    """After the call, every .grad is zero (param.grad.zero_()) or None."""
    gw, gb = torch.tensor([4.0, -8.0, 12.0]), torch.tensor([2.0])
    P = fresh(ctx, [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5])], [gw, gb])
    call = run_sgd(ctx, P, 0.1, 2)
    left = P.max_grad()
    if left == 0:
        return
    params = dict(call=call, grads=grads_text(("w", "b"), (gw, gb)), left=left)
    if math.isclose(left, 12.0, rel_tol=1e-6):
        raise TestFailure("after {call} ({grads}) the gradients are still there (the largest |element| is {left:g}). "
                          "backward() ADDS to .grad: the next minibatch's gradient would be added to this one, and "
                          "every step would use the sum of all the gradients so far. Zero each gradient after its "
                          "update: param.grad.zero_().", mistake="weight_decay.grad_not_zeroed", **params)
    raise TestFailure("after {call} ({grads}) a gradient is not zero (the largest |element| is {left:g}). Zero each "
                      "one after its update: param.grad.zero_().", **params)


@grader.test("the update is done under torch.no_grad(): the parameters stay leaves that require grad", points=1,
             hidden=True)
def sgd_no_graph(ctx):
    """sgd is called with autograd recording, as in a training loop. The parameters must come out as leaves with
    requires_grad=True and no grad_fn: the update itself is not part of any graph."""
    gw, gb = torch.tensor([4.0, -8.0, 12.0]), torch.tensor([2.0])
    P = fresh(ctx, [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5])], [gw, gb])
    call = sgd_call(0.1, 2)
    try:
        run_sgd(ctx, P, 0.1, 2, grad_mode=True)
    except LearnerError as err:
        text = err.remote.message if err.remote is not None else ""
        if "leaf Variable that requires grad" in text and "in-place" in text:
            raise TestFailure("{call} raised RuntimeError: {error}. w and b are leaves that require grad, and "
                              "autograd refuses to record an in-place change of such a tensor (it would have to "
                              "differentiate the update itself). Do the update inside `with torch.no_grad():`, which "
                              "tells autograd not to record it.", call=call, error=text.splitlines()[0][:200],
                              mistake="weight_decay.update_outside_no_grad") from None
        raise
    for name, t in zip(("w", "b"), P.tensors()):
        if not t.requires_grad:
            raise TestFailure("after {call}, {name} no longer requires grad: the next backward() could not reach it "
                              "and training would stop. Leave requires_grad alone (no .detach_() or "
                              ".requires_grad_(False)); update under torch.no_grad() instead.", call=call, name=name)
        if not t.is_leaf:
            raise TestFailure("after {call}, {name} is no longer a leaf: the update was recorded in a graph. Do it "
                              "inside `with torch.no_grad():`.", call=call, name=name)


# -- the smoke-check ----------------------------------------------------------------------------------------------

# The book's experiment (d2l-zh 4.5, d2l-en 3.7): y = 0.05 + Σ 0.01 x_i + ε, ε ~ N(0, 0.01²), 200 inputs, 20 training
# and 100 test examples, minibatches of 5, lr 0.003, 100 epochs, w ~ N(0, 1), b = 0.
N_TRAIN, N_TEST, N_INPUTS, BATCH, LR, EPOCHS, LAMBD = 20, 100, 200, 5, 0.003, 100, 3.0


def squared_loss(y_hat, y):
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


# Threshold 0.05: the test loss with λ = 3 must be at most 1/20 of the test loss with λ = 0. Measured with this exact
# setup (float32, seeds 0..9; the grader uses seed 0): the reference gives ratios 0.00064 to 0.0016 (λ = 0: test loss
# 70 to 112; λ = 3: 0.06 to 0.15), 30 times below the threshold. Typical bugs: a mean instead of a sum in l2_penalty
# gives 0.965 (the decay is 200 times too weak), the norm instead of its square 0.74 to 0.77, a penalty cut from the
# graph (.detach()) exactly 1 (no decay at all), gradients never zeroed 0.45 to 1.4.
@grader.smoke("the book's experiment: with λ = 3 the test loss is at most 1/20 of λ = 0's", points=3,
              metric="test loss (λ = 3) / test loss (λ = 0)", goal="max", threshold=0.05, budget=20, plot="ratio",
              hidden=True)
def book_experiment(ctx):
    """Linear regression with 200 inputs and only 20 training examples, trained twice from the same start with your
    l2_penalty and sgd: without weight decay it overfits (a tiny training loss, a large test loss); with λ = 3 the
    test loss falls by orders of magnitude. Both runs are streamed; the graded number is the final ratio."""
    gen = ctx.seed(0)
    dev = ctx.device
    true_w = torch.full((N_INPUTS, 1), 0.01)

    def data(n):
        X = torch.randn(n, N_INPUTS, generator=gen)
        return X.to(dev), (X @ true_w + 0.05 + 0.01 * torch.randn(n, 1, generator=gen)).to(dev)

    X_train, y_train = data(N_TRAIN)
    X_test, y_test = data(N_TEST)
    w_init = torch.randn(N_INPUTS, 1, generator=gen).to(dev)
    b_init = torch.zeros(1, device=dev)
    # Both runs in one list [w, b (λ = 0), w, b (λ = 3)]: sgd's update is the same rule for every tensor, so one call
    # steps both runs (and halves the round trips to your process).
    P = Params(ctx, [w_init, b_init, w_init, b_init])
    current = P.values()
    penalty = ctx.fn("l2_penalty")
    names = ("w", "b", "w_decay", "b_decay")

    def test_loss(w, b):
        return float(squared_loss(X_test @ w + b, y_test).mean())

    step, ratio = 0, math.nan
    for _ in range(EPOCHS):
        order = torch.randperm(N_TRAIN, generator=gen).to(dev)
        for start in range(0, N_TRAIN, BATCH):
            idx = order[start:start + BATCH]
            grads = []
            for lambd, (w, b) in ((0.0, current[:2]), (LAMBD, current[2:])):
                w, b = w.clone().requires_grad_(True), b.clone().requires_grad_(True)
                l = squared_loss(X_train[idx] @ w + b, y_train[idx])
                if lambd:  # the book adds lambd * l2_penalty(w) to each example's loss
                    pen = penalty(w)
                    if step == 0:
                        check_type(pen, penalty.describe(w))
                    l = l + lambd * pen
                gw, gb = torch.autograd.grad(l.sum(), (w, b), allow_unused=True)
                grads += [torch.zeros_like(w) if gw is None else gw, gb]
            P.backward(grads)
            run_sgd(ctx, P, LR, BATCH, names=names)
            current = P.values()
            losses = {0.0: test_loss(*current[:2]), LAMBD: test_loss(*current[2:])}
            step += 1
            if not all(math.isfinite(v) for v in losses.values()):
                raise TestFailure("the training diverged: at step {step} the test losses are {losses}. The reference "
                                  "trains on the same data from the same start; look at the sgd tests first.",
                                  step=step, losses=", ".join(f"λ = {k:g}: {v}" for k, v in losses.items()))
            ratio = losses[LAMBD] / losses[0.0] if losses[0.0] > 0 else math.inf
            ctx.step(step, ratio=ratio, test_loss=losses[LAMBD], test_loss_no_decay=losses[0.0])
    return ratio
