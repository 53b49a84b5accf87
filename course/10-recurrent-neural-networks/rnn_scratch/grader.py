"""Tests and smoke-check for exercise rnn_scratch (d2l 10.5).

The visible tests (also in the student build) check get_params, init_rnn_state, that rnn continues a sequence from
the state it returned (against the learner's own rnn) and grad_clipping on gradients whose norm is written in the
test (13): none of them needs the reference. The hidden tests call the learner's rnn with parameters the grader draws
itself (the same values go to the reference), larger than get_params's 0.01-scale ones so that the tanh is far from
linear; when the values are wrong the grader recomputes the RNN with the usual mistakes (ReLU or sigmoid for tanh,
the output taken from the old state, the initial state ignored, ...) and names the one the learner's result matches.

How grad_clipping is tested. Tensors reach the learner's process as copies and a tensor's .grad does not travel, so
the parameters are built in the learner's process (class Clipped): a namedtuple holding them (to set their .grad
there with torch.autograd.backward and read it back with operator.attrgetter), and the `net` the learner gets: a
types.SimpleNamespace whose .params is a collections.UserList of the same tensors (a list in all but name), or a
torch.nn.ParameterList of the same Parameters.

The smoke-check trains a character-level language model on text from tutor.grading.text.grammar_text with the
learner's get_params, init_rnn_state and rnn, and the learner's grad_clipping on every step's gradients (in the
learner's process, as above), with plain SGD at a learning rate that diverges on some seeds without clipping.
"""

import inspect
import math

import torch
import torch.nn.functional as F
from torch import nn

from tutor.grading import Grader, TestFailure, check_tensor, check_type, describe, fmt_tensor
from tutor.grading.harness import INCONCLUSIVE, LearnerError
from tutor.grading.remote import RemoteError
from tutor.grading.text import char_corpus, grammar_text
from tutor.grading.train import SGD

grader = Grader("rnn_scratch")

NAMES = ["W_xh", "W_hh", "b_h", "W_hq", "b_q"]
ORDER = "[W_xh, W_hh, b_h, W_hq, b_q]"
ATOL, RTOL = 1e-5, 1e-4

# Unit tests use vocab_size != num_hiddens so that no input weight has the shape of a hidden one.
VOCAB, HIDDEN = 5, 4


def param_shapes(vocab_size, num_hiddens):
    return [(vocab_size, num_hiddens), (num_hiddens, num_hiddens), (num_hiddens,), (num_hiddens, vocab_size),
            (vocab_size,)]


def shared_params(device, seed, vocab_size=VOCAB, num_hiddens=HIDDEN, requires_grad=False):
    """Random parameters in the course's order; weights ~ N(0, 0.8²) and biases ~ N(0, 0.5²), so tanh saturates
    in places and ReLU, sigmoid or no activation give clearly different numbers."""
    gen = torch.Generator().manual_seed(seed)
    params = []
    for shape in param_shapes(vocab_size, num_hiddens):
        scale = 0.5 if len(shape) == 1 else 0.8
        p = (torch.randn(shape, generator=gen) * scale).to(device)
        params.append(p.requires_grad_(requires_grad))
    return params


def one_hot_inputs(steps, batch, device, seed, vocab_size=VOCAB):
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, vocab_size, (steps, batch), generator=gen)
    return F.one_hot(tokens, vocab_size).to(torch.float32).to(device)


def start_state(batch, device, seed, num_hiddens=HIDDEN):
    """A nonzero initial hidden state, so an rnn that ignores `state` shows."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn((batch, num_hiddens), generator=gen) * 0.6).to(device)


def clones(params, requires_grad=False):
    return [p.detach().clone().requires_grad_(requires_grad) for p in params]


# -- the RNN, computed with and without the usual mistakes ---------------------------------------------------------

def run_rnn(inputs, H, params, *, act=torch.tanh, output_from_old=False, update=True, detach_state=False):
    """The RNN of the lesson; the keyword arguments switch on one typical mistake each."""
    W_xh, W_hh, b_h, W_hq, b_q = params
    outputs = []
    for X in inputs:
        if detach_state:
            H = H.detach()
        H_new = act(X @ W_xh + H @ W_hh + b_h)
        outputs.append((H if output_from_old else H_new) @ W_hq + b_q)
        if update:
            H = H_new
    return torch.cat(outputs, dim=0), H


def variants(inputs, H0, params):
    """(outputs, H, why) for each typical mistake."""
    found = [
        (run_rnn(inputs, H0, params, act=torch.relu),
         TestFailure("  They match an RNN that uses ReLU: the hidden state of the course's RNN is H = tanh(X W_xh + "
                     "H W_hh + b_h). tanh keeps H in (-1, 1) step after step; ReLU lets it grow without bound, and "
                     "the gradients through time with it.", mistake="rnn_scratch.relu_not_tanh")),
        (run_rnn(inputs, H0, params, act=torch.sigmoid),
         TestFailure("  They match an RNN that uses the sigmoid: the hidden state is H = tanh(X W_xh + H W_hh + b_h), "
                     "centred on 0 with values in (-1, 1).", mistake="rnn_scratch.sigmoid_not_tanh")),
        (run_rnn(inputs, H0, params, act=lambda x: x),
         TestFailure("  They match an RNN with no activation at all: wrap the new state in torch.tanh(...).",
                     mistake="rnn_scratch.no_activation")),
        (run_rnn(inputs, H0, params, output_from_old=True),
         TestFailure("  Each step's output is computed from the state BEFORE this step's update. Update H first, then "
                     "Y = H W_hq + b_q with the new H.", mistake="rnn_scratch.output_before_update")),
        (run_rnn(inputs, H0, params, update=False),
         TestFailure("  H is never updated: every step starts from the initial state. Assign the new state to H inside "
                     "the loop (H = torch.tanh(...)), so that this step's output and the next step use it.",
                     mistake="rnn_scratch.state_never_updated")),
        (run_rnn(inputs, torch.zeros_like(H0), params),
         TestFailure("  They match an RNN that starts from a zero state: the initial state passed in `state` is "
                     "ignored. Unpack it with `H, = state` and start from that H (the course passes the previous "
                     "minibatch's state back in).", mistake="rnn_scratch.initial_state_ignored")),
    ]
    return [(o, h, why) for (o, h), why in found]


def close(a, b):
    return a.shape == b.shape and a.device == b.device and bool(
        torch.allclose(a.detach().to(torch.float64), b.detach().to(torch.float64), atol=ATOL, rtol=RTOL))


# -- calling the learner's functions -------------------------------------------------------------------------------

def show(value):
    return str(value) if isinstance(value, torch.device) else describe(value)


def learner_fn(ctx, name):
    """ctx.fn(name), but a call is described with its device spelled out: get_params(..., device: cpu)."""
    fn = ctx.fn(name)
    names = list(inspect.signature(ctx.declaration(name)).parameters)

    def text(*args):
        return f"{name}({', '.join(f'{n}: {show(a)}' for n, a in zip(names, args))})"

    def call(*args):
        try:
            return fn.__wrapped__(*args)
        except RemoteError as exc:
            raise LearnerError(ctx.explain(exc, text(*args)), exc) from None

    call.__wrapped__ = fn.__wrapped__
    call.describe = text
    return call


def unpack_state(state, what, init=False):
    """H from a state that must be the 1-tuple (H,)."""
    if isinstance(state, torch.Tensor):
        raise TestFailure("{what} returned the state as a bare tensor {got}; return the 1-tuple (H,) (note the "
                          "trailing comma). The course passes the state back into the next call and unpacks it with "
                          "`H, = state`; a bare (batch, num_hiddens) tensor would be unpacked row by row instead.",
                          mistake="rnn_scratch.init_state_bare_tensor" if init else "rnn_scratch.state_bare_tensor",
                          what=what, got=describe(state))
    if isinstance(state, list):
        raise TestFailure("{what} returned the state as a list {got}; return a tuple: (H,), with the trailing comma.",
                          mistake="rnn_scratch.state_list", what=what, got=describe(state))
    if not isinstance(state, tuple):
        raise TestFailure("{what} returned the state as {got}; expected the 1-tuple (H,).", what=what,
                          got=describe(state))
    if len(state) != 1:
        raise TestFailure("{what} returned a state tuple with {n} items, {got}; an RNN has a single hidden state: "
                          "return (H,).", what=what, n=len(state), got=describe(state))
    return state[0]


def unpack_result(result, what, steps, batch, vocab_size, num_hiddens, strict_state=False, stacked_ok=False):
    """Check rnn's (outputs, (H,)) and return (outputs, H). Unless strict_state, the state may also be a bare
    tensor (the test of the returned state reports it); with stacked_ok, outputs of shape (steps, batch,
    vocab_size) are flattened (for tests about something else: the value tests report them)."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TestFailure("{what} returned {got}; expected the pair (outputs, (H,)): the outputs of every step, "
                          "concatenated, and the final state as a 1-tuple.", what=what, got=describe(result))
    outputs, state = result
    if isinstance(outputs, (list, tuple)):
        raise TestFailure("{what} returned the outputs as a Python {type} of {n} items; join them into one tensor with "
                          "torch.cat(outputs, dim=0), of shape (steps · batch, vocab_size) = ({rows}, {vocab_size}).",
                          mistake="rnn_scratch.outputs_not_concatenated", what=what, type=type(outputs).__name__,
                          n=len(outputs), rows=steps * batch, vocab_size=vocab_size)
    check_type(outputs, what + "[0] (the outputs)")
    if stacked_ok and tuple(outputs.shape) == (steps, batch, vocab_size):
        outputs = outputs.reshape(steps * batch, vocab_size)
    if tuple(outputs.shape) != (steps * batch, vocab_size):
        failure = TestFailure("{what} returned outputs of shape {shape}; expected ({rows}, {vocab_size}) = "
                              "(steps · batch, vocab_size) with steps = {steps} and batch = {batch}.", what=what,
                              shape=str(tuple(outputs.shape)), rows=steps * batch, vocab_size=vocab_size,
                              steps=steps, batch=batch)
        if tuple(outputs.shape) == (steps, batch, vocab_size):
            failure.with_part(TestFailure(
                "  The shape is (steps, batch, vocab_size): you used torch.stack. The course concatenates the steps "
                "along dimension 0 with torch.cat(outputs, dim=0), so that row t · batch + b holds step t of sequence "
                "b and the outputs line up with the flattened labels in the loss.", mistake="rnn_scratch.outputs_stacked"))
        elif tuple(outputs.shape) == (batch, vocab_size):
            failure.with_part(TestFailure(
                "  The shape is (batch, vocab_size): only one step's output. Collect the output of every step and "
                "torch.cat them.", mistake="rnn_scratch.only_one_output"))
        elif tuple(outputs.shape) == (steps * batch, num_hiddens):
            failure.with_part(TestFailure(
                "  The shape is (steps · batch, num_hiddens): these are hidden states. Each step's output is "
                "Y = H W_hq + b_q.", mistake="rnn_scratch.outputs_are_states"))
        raise failure
    if isinstance(state, torch.Tensor) and not strict_state:
        H = state
    else:
        H = unpack_state(state, what)
    check_type(H, what + " (the final state H)")
    if tuple(H.shape) != (batch, num_hiddens):
        raise TestFailure("{what} returned a final state H of shape {shape}; expected (batch, num_hiddens) = "
                          "({batch}, {num_hiddens}).", what=what, shape=str(tuple(H.shape)), batch=batch,
                          num_hiddens=num_hiddens)
    return outputs, H


def diagnose(outputs, inputs, H0, params):
    """The explanation (a TestFailure part) of the first typical mistake the learner's outputs match, or None."""
    expected, expected_H = run_rnn(inputs, H0, params)
    for v_out, v_H, why in variants(inputs, H0, params):
        if close(v_out, expected) and close(v_H, expected_H):
            continue
        if close(outputs, v_out):
            return why
    return None


def check_rnn(ctx, steps, batch, seed):
    """Call the learner's rnn on shared parameters and a nonzero initial state; compare with the reference."""
    fn = learner_fn(ctx, "rnn")
    params = shared_params(ctx.device, seed)
    inputs = one_hot_inputs(steps, batch, ctx.device, seed + 1)
    H0 = start_state(batch, ctx.device, seed + 2)
    what = fn.describe(inputs, (H0,), params)
    result = fn(inputs.clone(), (H0.clone(),), clones(params))
    outputs, H = unpack_result(result, what, steps, batch, VOCAB, HIDDEN)
    expected, (expected_H,) = ctx.ref("rnn")(inputs, (H0,), params)
    if outputs.device == expected.device and not close(outputs, expected):
        why = diagnose(outputs, inputs, H0, params)
        if why is not None:
            raise TestFailure("{what} returned the wrong outputs (shared parameters, the same for your rnn and the "
                              "reference; a nonzero initial state).\n  expected: {expected}\n  got:      {got}",
                              what=what, expected=fmt_tensor(expected), got=fmt_tensor(outputs)).with_part(why)
    check_tensor(outputs, expected, what + "[0] (the outputs)", atol=ATOL, rtol=RTOL)
    if H.device == expected_H.device and not close(H, expected_H):
        failure = TestFailure("{what}: the outputs are right, but the final state is not.\n  expected: {expected}\n"
                              "  got:      {got}", what=what, expected=fmt_tensor(expected_H), got=fmt_tensor(H))
        if close(H, H0):
            failure.with_part(TestFailure("  That is the initial state: return the state after the last step.",
                                          mistake="rnn_scratch.returns_initial_state"))
        raise failure
    check_tensor(H, expected_H, what + " (the final state H)", atol=ATOL, rtol=RTOL)


def flatten(value, depth=0):
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)) and depth < 3:
        return [t for item in value for t in flatten(item, depth + 1)]
    return []


def probe_on_meta(ctx, name, args, labels):
    """Call the learner's function on meta tensors; every tensor it returns (labelled in order) must be on meta."""
    fn = learner_fn(ctx, name)
    what = fn.describe(*args)
    got = ctx.run_on_meta(what, lambda: fn.__wrapped__(*args),
                          "  Create new tensors with device=device (or the device of the tensors you were given) so "
                          "your code also works on a GPU; we check this with tensors on PyTorch's 'meta' device, a "
                          "stand-in for a GPU.")
    if got is INCONCLUSIVE:
        return
    for i, t in enumerate(flatten(got)):
        if t.device.type != "meta":
            raise TestFailure("{what} returned {label} on {device}, not on the device it was given. Create new "
                              "tensors with device=device (or the device of the tensors you were given) so your "
                              "code also works on a GPU; we check this with tensors on PyTorch's 'meta' device, a "
                              "stand-in for a GPU.", what=what, label=labels[i] if i < len(labels) else "a tensor",
                              device=str(t.device))


# -- get_params and init_rnn_state ---------------------------------------------------------------------------------

@grader.test("get_params: five leaf tensors with the right shapes, small random weights, zero biases", points=1)
def params_shapes(ctx):
    fn = learner_fn(ctx, "get_params")
    vocab_size, num_hiddens = 7, 6
    what = fn.describe(vocab_size, num_hiddens, ctx.device)
    params = fn(vocab_size, num_hiddens, ctx.device)
    if not isinstance(params, (list, tuple)) or len(params) != 5:
        raise TestFailure("{what} returned {got}; expected a list of 5 tensors {order}.", what=what,
                          got=describe(params), order=ORDER)
    for name, p, shape in zip(NAMES, params, param_shapes(vocab_size, num_hiddens)):
        check_type(p, f"{what}: {name}")
        if tuple(p.shape) != shape:
            failure = TestFailure("{what}: {name} has shape {shape}; expected {expected} with vocab_size = "
                                  "{vocab_size} and num_hiddens = {num_hiddens}. The order is {order}.", what=what,
                                  name=name, shape=str(tuple(p.shape)), expected=str(shape), vocab_size=vocab_size,
                                  num_hiddens=num_hiddens, order=ORDER)
            if tuple(p.shape) == shape[::-1] and len(shape) == 2:
                failure.with_part(TestFailure(
                    "  It is transposed: X of shape (batch, vocab_size) multiplies from the left, X @ W_xh, so W_xh "
                    "is (vocab_size, num_hiddens) and W_hq is (num_hiddens, vocab_size).",
                    mistake="rnn_scratch.weight_transposed"))
            raise failure
        if p.dtype != torch.float32:
            raise TestFailure("{what}: {name} has dtype {dtype}; expected torch.float32.", what=what, name=name,
                              dtype=str(p.dtype))
        if not p.requires_grad:
            raise TestFailure("{what}: {name} does not require grad, so training could never change it. Call "
                              "p.requires_grad_(True) on every parameter.", mistake="rnn_scratch.params_no_grad",
                              what=what, name=name)
        if not p.is_leaf:
            raise TestFailure("{what}: {name} is not a leaf tensor: it was computed from another tensor that requires "
                              "grad (e.g. torch.randn(..., requires_grad=True) * 0.01), so its .grad stays None. "
                              "Scale first, then call .requires_grad_(True).", mistake="rnn_scratch.params_not_leaf",
                              what=what, name=name)
    with torch.no_grad():
        for name, p in zip(NAMES, params):
            if name.startswith("b"):
                if bool((p != 0).any()):
                    raise TestFailure("{what}: the bias {name} is {value}; biases start at zero.", what=what,
                                      name=name, value=fmt_tensor(p))
                continue
            if not bool((p != p.reshape(-1)[0]).any()):
                raise TestFailure("{what}: every entry of the weight {name} is {value:g}. Weights start as small random "
                                  "numbers, e.g. torch.randn(shape, device=device) * 0.01.", what=what, name=name,
                                  value=float(p.reshape(-1)[0]))
            std = float(p.double().std())
            if std > 0.2:
                raise TestFailure("{what}: the weight {name} has standard deviation {std:.3g}; start with small random "
                                  "numbers, e.g. torch.randn(shape, device=device) * 0.01.",
                                  mistake="rnn_scratch.weights_too_large", what=what, name=name, std=std)


@grader.test("init_rnn_state returns the tuple (H,) with H zeros of shape (batch_size, num_hiddens)", points=1)
def initial_state(ctx):
    fn = learner_fn(ctx, "init_rnn_state")
    device = torch.empty(0, device=ctx.device).device
    for batch_size, num_hiddens in ((3, 5), (1, 4)):
        what = fn.describe(batch_size, num_hiddens, ctx.device)
        H = unpack_state(fn(batch_size, num_hiddens, ctx.device), what, init=True)
        check_type(H, what + "[0]")
        if H.device != device:  # where H lives is the device test's business
            H = H.to(device)
        check_tensor(H, torch.zeros((batch_size, num_hiddens), device=device), what + "[0]")


# -- rnn -----------------------------------------------------------------------------------------------------------

@grader.test("rnn: outputs concatenated along dim 0 and the final state follow H = tanh(X W_xh + H W_hh + b_h), "
             "Y = H W_hq + b_q (shared parameters; T = 5, B = 3, T = 1 and B = 1)", points=2, hidden=True)
def outputs_and_state(ctx):
    for steps, batch, seed in ((5, 3, 10), (1, 3, 50), (4, 1, 60)):
        check_rnn(ctx, steps=steps, batch=batch, seed=seed)


@grader.test("rnn carries the state: passing the returned (H,) back in continues the sequence", points=1)
def state_continues(ctx):
    """rnn on steps 0-2, then rnn on steps 3-5 with the returned state, equals your own rnn on steps 0-5."""
    fn = learner_fn(ctx, "rnn")
    params = shared_params(ctx.device, 30)
    inputs = one_hot_inputs(6, 2, ctx.device, 31)
    H0 = start_state(2, ctx.device, 32)
    what = fn.describe(inputs[:3], (H0,), params)
    result = fn(inputs[:3].clone(), (H0.clone(),), clones(params))
    first, _ = unpack_result(result, what, 3, 2, VOCAB, HIDDEN, strict_state=True, stacked_ok=True)
    state = result[1]
    second, _ = unpack_result(fn(inputs[3:].clone(), state, clones(params)), fn.describe(inputs[3:], state, params),
                              3, 2, VOCAB, HIDDEN, strict_state=True, stacked_ok=True)
    what_all = fn.describe(inputs, (H0,), params)
    whole, _ = unpack_result(fn(inputs.clone(), (H0.clone(),), clones(params)), what_all, 6, 2, VOCAB, HIDDEN,
                             stacked_ok=True)
    if whole.device == second.device and not close(torch.cat([first, second]), whole):
        raise TestFailure("{what} and two calls on its halves, the second starting from the state the first returned, "
                          "disagree on steps 3-5:\n  one call:  {whole}\n  two calls: {second}\n  rnn must start "
                          "from the H it is given (`H, = state`) and return the state after its last step, so that "
                          "the course can feed one minibatch's final state into the next.", what=what_all,
                          whole=fmt_tensor(whole[6:]), second=fmt_tensor(second),
                          mistake="rnn_scratch.state_not_carried")


@grader.test("gradients reach every parameter and flow back through time", points=1, hidden=True)
def gradients(ctx):
    """loss = (outputs · G).sum() + (H · G').sum(); when your rnn's values match the reference, every parameter's
    gradient must match the reference's (wrong values are the value test's business)."""
    fn = learner_fn(ctx, "rnn")
    params = shared_params(ctx.device, 40)
    inputs = one_hot_inputs(4, 2, ctx.device, 41)
    H0 = start_state(2, ctx.device, 42)
    gen = torch.Generator().manual_seed(43)
    G = torch.randn((8, VOCAB), generator=gen).to(ctx.device)
    G_H = torch.randn((2, HIDDEN), generator=gen).to(ctx.device)
    mine = clones(params, requires_grad=True)
    what = fn.describe(inputs, (H0,), mine)
    outputs, H = unpack_result(fn(inputs.clone(), (H0.clone(),), mine), what, 4, 2, VOCAB, HIDDEN, stacked_ok=True)
    if not outputs.requires_grad:
        raise TestFailure("{what} returned outputs that autograd cannot differentiate (requires_grad=False), so no "
                          "parameter could be trained. Keep every step a tensor operation on the parameters: "
                          ".detach(), .item(), torch.no_grad() or torch.tensor(...) cut the graph.",
                          mistake="rnn_scratch.outputs_not_differentiable", what=what)
    use_state = H.requires_grad
    loss = (outputs * G).sum() + ((H * G_H).sum() if use_state else 0.0)
    grads = torch.autograd.grad(loss, mine, allow_unused=True)
    for name, g in zip(NAMES, grads):
        if g is None:
            raise TestFailure("no gradient reaches {name}: your rnn's outputs and final state do not depend on it "
                              "through differentiable operations. Use every parameter, in the order {order}.",
                              name=name, order=ORDER)
    expected, expected_H = run_rnn(inputs, H0, params)
    if not (close(outputs, expected) and close(H, expected_H)):
        return
    detached = clones(params, requires_grad=True)
    d_out, d_H = run_rnn(inputs, H0, detached, detach_state=True)
    detached_grads = torch.autograd.grad((d_out * G).sum() + (d_H * G_H).sum(), detached)
    if use_state and all(close(g, d) for g, d in zip(grads, detached_grads)):
        raise TestFailure("the gradients of {what} stop at every time step: H is detached between steps, so no "
                          "gradient flows back through time. Do not call .detach() (or .data) on H inside rnn.",
                          mistake="rnn_scratch.state_detached", what=what)
    ref_params = clones(params, requires_grad=True)
    r_out, (r_H,) = ctx.ref("rnn")(inputs, (H0,), ref_params)
    ref_grads = torch.autograd.grad((r_out * G).sum() + (r_H * G_H).sum(), ref_params)
    for name, g, r in zip(NAMES, grads, ref_grads):
        check_tensor(g, r, f"the gradient with respect to {name} of (outputs · G).sum() + (H · G').sum(), where "
                           f"(outputs, (H,)) = {what}", atol=1e-4, rtol=1e-4)


@grader.test("everything lives on the device it was given", points=1, hidden=True)
def devices(ctx):
    device = torch.empty(0, device=ctx.device).device
    params = learner_fn(ctx, "get_params")(VOCAB, HIDDEN, ctx.device)
    for name, p in zip(NAMES, params if isinstance(params, (list, tuple)) else []):
        if isinstance(p, torch.Tensor) and p.device != device:
            raise TestFailure("get_params(vocab_size: {vocab_size}, num_hiddens: {num_hiddens}, device: {device}) put "
                              "{name} on {got}. Create every tensor with device=device.", vocab_size=VOCAB,
                              num_hiddens=HIDDEN, device=str(ctx.device), name=name, got=str(p.device))
    for H in flatten(learner_fn(ctx, "init_rnn_state")(2, HIDDEN, ctx.device)):
        if H.device != device:
            raise TestFailure("init_rnn_state(batch_size: 2, num_hiddens: {num_hiddens}, device: {device}) returned H "
                              "on {got}. Create it with torch.zeros(..., device=device).", num_hiddens=HIDDEN,
                              device=str(ctx.device), got=str(H.device))
    fn = learner_fn(ctx, "rnn")
    inputs, H0 = one_hot_inputs(2, 2, ctx.device, 80), start_state(2, ctx.device, 81)
    params = shared_params(ctx.device, 82)
    for t in flatten(fn(inputs, (H0,), params)):
        if t.device != device:
            raise TestFailure("{what} returned a tensor on {got}, but its inputs are on {device}. Create new tensors on "
                              "the inputs' device and avoid .cpu() or .numpy().", what=fn.describe(inputs, (H0,), params),
                              got=str(t.device), device=str(device))
    if not ctx.should_probe_devices():
        return
    meta = torch.device("meta")
    probe_on_meta(ctx, "get_params", (VOCAB, HIDDEN, meta), NAMES)
    probe_on_meta(ctx, "init_rnn_state", (2, HIDDEN, meta), ["H"])
    inputs = torch.zeros((3, 2, VOCAB), device=meta)
    meta_params = [torch.zeros(shape, device=meta) for shape in param_shapes(VOCAB, HIDDEN)]
    probe_on_meta(ctx, "rnn", (inputs, (torch.zeros((2, HIDDEN), device=meta),), meta_params), ["outputs", "H"])


# -- grad_clipping -------------------------------------------------------------------------------------------------

class Clipped:
    """Parameters with their .grad set in the learner's process (see the module's docstring), and `net`, what
    grad_clipping gets: an object whose .params lists them, or (module=True) an nn.ParameterList of them."""

    def __init__(self, ctx, values, grads, module=False):
        collections, types = ctx.link.import_module("collections"), ctx.link.import_module("types")
        names = [f"p{i}" for i in range(len(values))]
        kept_type = collections.namedtuple("Kept", names)
        made = [nn.Parameter(v.detach().clone()) if module else v.detach().clone().requires_grad_(True)
                for v in values]
        self.kept = kept_type(*[t.to(ctx.device) for t in made]) if ctx.device.type != "cpu" else kept_type(*made)
        self._ctx = ctx
        self._backward = ctx.link.import_module("torch.autograd").backward
        self._zero = ctx.link.import_module("torch.nn.utils").clip_grad_value_
        self.set_grads(grads, first=True)
        if module:
            self.net = ctx.link.import_module("torch.nn").ParameterList(self.kept).in_sandbox()
        else:
            self.net = types.SimpleNamespace(params=collections.UserList(self.kept))
        getter = ctx.link.import_module("operator").attrgetter
        self._grads = getter(*[n + ".grad" for n in names])
        self._values = getter(*names)
        self.n = len(values)

    def set_grads(self, grads, first=False):
        """Make the parameters' .grad equal `grads` (in the learner's process), as loss.backward() would."""
        with torch.no_grad():
            if not first:
                self._zero(self.kept, 0.0)  # clamping to [0, 0] zeroes every .grad in place
            self._backward(self.kept, grad_tensors=[g.detach().to(self._ctx.device) for g in grads])

    def grads(self):
        got = self._grads(self.kept)
        return [got] if self.n == 1 else list(got)

    def tensors(self):
        got = self._values(self.kept)
        return [got] if self.n == 1 else list(got)


A_VALUE, B_VALUE = torch.tensor([[0.5, -1.0], [2.0, 0.25]]), torch.tensor([1.5])
A_GRAD, B_GRAD = torch.tensor([[3.0, 0.0], [0.0, -4.0]]), torch.tensor([12.0])  # global norm sqrt(9 + 16 + 144) = 13
GRADS_TEXT = "a.grad = [[3, 0], [0, -4]], b.grad = [12] (global norm 13)"


def clip(ctx, theta, module=False, grad_mode=False):
    """The learner's grad_clipping on (a, b) with A_GRAD and B_GRAD; returns (Clipped, call text)."""
    fn = ctx.fn("grad_clipping")
    C = Clipped(ctx, [A_VALUE, B_VALUE], [A_GRAD, B_GRAD], module=module)
    call = (f"grad_clipping(net, theta={theta:g}) with net {'an nn.ParameterList of' if module else '.params ='} "
            f"[a, b], {GRADS_TEXT}")
    try:
        with torch.set_grad_enabled(grad_mode):
            fn(C.net, theta)
    except LearnerError as err:
        text = err.remote.message if err.remote is not None else ""
        if module and "has no attribute 'params'" in text:
            raise TestFailure("{call} raised AttributeError: {error}. net can be an nn.Module (the concise RNN of "
                              "the course): then take its parameters that require grad, [p for p in "
                              "net.parameters() if p.requires_grad]; only otherwise use net.params.",
                              call=call, error=text.splitlines()[0][:200],
                              mistake="grad_clipping.module_not_handled") from None
        if "leaf Variable that requires grad" in text:
            raise TestFailure("{call} raised RuntimeError: {error}. Scale the gradients (p.grad), not the parameters "
                              "themselves.", call=call, error=text.splitlines()[0][:200],
                              mistake="grad_clipping.params_scaled") from None
        raise
    return C, call


def check_clipped(C, call, theta):
    got = [g.detach().cpu() if isinstance(g, torch.Tensor) else g for g in C.grads()]
    scale = min(1.0, theta / 13.0)
    expected = [A_GRAD * scale, B_GRAD * scale]
    if all(isinstance(g, torch.Tensor) and g.shape == e.shape and torch.allclose(g, e, rtol=1e-5, atol=1e-6)
           for g, e in zip(got, expected)):
        return
    params = dict(call=call, a=fmt_tensor(got[0]) if isinstance(got[0], torch.Tensor) else repr(got[0]),
                  b=fmt_tensor(got[1]) if isinstance(got[1], torch.Tensor) else repr(got[1]),
                  ea=fmt_tensor(expected[0]), eb=fmt_tensor(expected[1]))
    failure = TestFailure("after {call} the gradients are a.grad = {a}, b.grad = {b}; expected {ea} and {eb}.",
                          **params)

    def like(sa, sb):
        return all(isinstance(g, torch.Tensor) and torch.allclose(g, e, rtol=1e-5, atol=1e-6)
                   for g, e in zip(got, (A_GRAD * sa, B_GRAD * sb)))

    if like(1.0, 1.0):
        failure.with_part(TestFailure(
            "  The gradients were not changed. Scale the caller's gradients in place (p.grad[:] *= theta / norm or "
            "p.grad.mul_(...)); a new list of scaled tensors never reaches the optimizer.",
            mistake="grad_clipping.not_in_place"))
    elif like(min(1.0, theta / 5.0), min(1.0, theta / 12.0)):
        failure.with_part(TestFailure(
            "  Each tensor was clipped by its own norm (5 and 12). Gradient clipping uses ONE norm for all the "
            "parameters together, sqrt(sum of every p.grad ** 2) = 13, so the whole gradient keeps its direction.",
            mistake="grad_clipping.per_parameter_norm"))
    elif like(theta / 169.0, theta / 169.0):
        failure.with_part(TestFailure(
            "  They were scaled by theta / 169: 169 is the sum of squares. The norm is its square root, 13.",
            mistake="grad_clipping.no_sqrt"))
    elif like(13.0 / theta, 13.0 / theta):
        failure.with_part(TestFailure("  They were scaled by norm / theta; the factor is theta / norm.",
                                      mistake="grad_clipping.inverted_ratio"))
    elif scale == 1.0 and like(theta / 13.0, theta / 13.0):
        failure.with_part(TestFailure(
            "  They were scaled UP to norm theta. Clip only when the norm is larger than theta (if norm > theta): "
            "small gradients stay exactly as they are.", mistake="grad_clipping.always_scaled"))
    elif all(isinstance(g, torch.Tensor) for g in got) and all(
            torch.allclose(g, e.clamp(-theta, theta)) for g, e in zip(got, (A_GRAD, B_GRAD))):
        failure.with_part(TestFailure(
            "  Every element was clamped to [-theta, theta] (clipping by value). The course clips by the global "
            "norm: multiply every gradient by theta / norm, which keeps its direction.",
            mistake="grad_clipping.clipped_by_value"))
    raise failure


@grader.test("grad_clipping scales all gradients together to a global norm of exactly theta, in place", points=1)
def clip_to_theta(ctx):
    """The norm is 13; theta = 1 and theta = 6.5 give 1/13 and 1/2 of every gradient (values written here)."""
    for theta in (1.0, 6.5):
        check_clipped(*clip(ctx, theta), theta)


@grader.test("grad_clipping leaves gradients whose norm is below theta untouched", points=1, hidden=True)
def clip_below(ctx):
    for theta in (20.0, 13.5):
        check_clipped(*clip(ctx, theta), theta)


@grader.test("grad_clipping works on an nn.Module (its parameters that require grad)", points=1, hidden=True)
def clip_module(ctx):
    check_clipped(*clip(ctx, 1.0, module=True), 1.0)


@grader.test("grad_clipping records no graph: the parameters keep their values and stay leaves", points=1,
             hidden=True)
def clip_no_graph(ctx):
    """Called with autograd recording, as right after loss.backward(). Only the .grad may change."""
    C, call = clip(ctx, 1.0, grad_mode=True)
    for name, t, v in zip(("a", "b"), C.tensors(), (A_VALUE, B_VALUE)):
        if not t.requires_grad or not t.is_leaf:
            raise TestFailure("after {call}, {name} is no longer a leaf that requires grad: the clipping was recorded "
                              "in a graph or detached the parameter. Change only p.grad.", call=call, name=name)
        if not torch.equal(t.detach().cpu(), v):
            raise TestFailure("after {call}, the parameter {name} itself changed to {got} (it was {was}). Clipping "
                              "scales the gradients, p.grad, never the parameters.", call=call, name=name,
                              got=fmt_tensor(t.detach().cpu()), was=fmt_tensor(v),
                              mistake="grad_clipping.params_scaled")
    for name, g in zip(("a", "b"), C.grads()):
        if isinstance(g, torch.Tensor) and g.requires_grad:
            raise TestFailure("after {call}, {name}.grad requires grad: it is part of a new graph. Scale the "
                              "gradients with plain tensor operations on p.grad (they do not require grad).",
                              call=call, name=name)


# -- smoke-check ---------------------------------------------------------------------------------------------------

NUM_HIDDENS, NUM_STEPS, BATCH, TRAIN_STEPS, LR, THETA = 32, 16, 32, 150, 2.0, 1.0


def train_language_model(get_params, init_rnn_state, rnn, clip_grads, train, held_out, vocab_size, device, seed,
                         report=None, seed_all=torch.manual_seed):
    """The course's RNNModelScratch in a few lines, trained with plain SGD (lr 2) on random windows, clipping every
    step's gradients with clip_grads(params, theta); returns the perplexity on held-out text."""
    seed_all(seed)
    params = get_params(vocab_size, NUM_HIDDENS, device)
    if not isinstance(params, (list, tuple)) or len(params) != 5 or not all(
            isinstance(p, torch.Tensor) and p.requires_grad and p.is_leaf for p in params):
        raise TestFailure("get_params returned {got}; the smoke-check needs 5 leaf tensors that require grad, "
                          "{order} (see the test of get_params).", got=describe(params), order=ORDER)
    gen = torch.Generator().manual_seed(seed)

    def forward(X):  # X: (batch, steps) token ids
        state = init_rnn_state(X.shape[0], NUM_HIDDENS, device)
        if isinstance(state, torch.Tensor):  # a bare H from init_rnn_state: its own test reports it
            state = (state,)
        outputs = rnn(F.one_hot(X.T, vocab_size).to(torch.float32), state, params)[0]
        if isinstance(outputs, torch.Tensor) and outputs.dim() == 3:
            outputs = outputs.reshape(-1, vocab_size)  # stacked outputs still train (the value test reports them)
        return outputs

    def perplexity():
        windows = held_out[: held_out.numel() // (NUM_STEPS + 1) * (NUM_STEPS + 1)].reshape(-1, NUM_STEPS + 1)
        with torch.no_grad():
            return math.exp(float(F.cross_entropy(forward(windows[:, :-1]), windows[:, 1:].T.reshape(-1))))

    optimizer = SGD(params, lr=LR)
    offsets = torch.arange(NUM_STEPS + 1, device=device)
    for step in range(1, TRAIN_STEPS + 1):
        starts = torch.randint(0, train.numel() - NUM_STEPS - 1, (BATCH,), generator=gen).to(device)
        windows = train[starts[:, None] + offsets]
        loss = F.cross_entropy(forward(windows[:, :-1]), windows[:, 1:].T.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        if any(p.grad is None for p in params):
            raise TestFailure("no gradient reached every parameter during training: the outputs of your rnn must be "
                              "computed from all the parameters with differentiable tensor operations.")
        clip_grads(params, THETA)
        optimizer.step()
        if report is not None:
            report(step, float(loss.detach()))
    return perplexity()


@grader.smoke("a character-level language model with your rnn and grad_clipping learns a small grammar", points=1,
              metric="held-out perplexity", goal="max", threshold=3.2, budget=10, plot="perplexity", hidden=True)
def language_model(ctx):
    """150 SGD steps (lr 2, the gradients clipped to norm 1 by your grad_clipping) on 16-character windows of
    generated text (22 characters, 32 hidden units). Over seeds 0..9 the reference gets 2.0 to 2.4; without
    clipping some seeds diverge (up to 22); ReLU for tanh gets 2.5 to 3.1 (threshold 3.2)."""
    get_params, init_rnn_state, rnn = (learner_fn(ctx, name) for name in ("get_params", "init_rnn_state", "rnn"))
    learner_clip = ctx.fn("grad_clipping")
    text, held_text = grammar_text(700, seed=1), grammar_text(60, seed=2)
    train, chars = char_corpus(text)
    index = {c: i for i, c in enumerate(chars)}
    train = train.to(ctx.device)
    held_out = torch.tensor([index[c] for c in held_text], device=ctx.device)

    made = []  # one Clipped for the whole run: its gradients are replaced at every step

    def clip_grads(params, theta):
        if not made:
            made.append(Clipped(ctx, [p.detach() for p in params], [p.grad for p in params]))
        else:
            made[0].set_grads([p.grad for p in params])
        C = made[0]
        learner_clip(C.net, theta)
        for p, g in zip(params, C.grads()):
            if not isinstance(g, torch.Tensor) or g.shape != p.shape:
                raise TestFailure("grad_clipping(net, theta={theta:g}) left a gradient of {got} in training; expected "
                                  "a tensor of shape {shape}.", theta=theta, got=describe(g), shape=str(tuple(p.shape)))
            p.grad = g.detach().to(p.device)

    def report(step, loss):
        if not math.isfinite(loss):
            raise TestFailure("the training loss became {loss} at step {step}; check the RNN equations and the "
                              "clipping.", loss=loss, step=step)
        ctx.step(step, loss=loss, perplexity=math.exp(min(loss, 50.0)))

    value = train_language_model(get_params, init_rnn_state, rnn, clip_grads, train, held_out, len(chars),
                                 ctx.device, 0, report, seed_all=ctx.seed)
    ref = ctx.ref

    def ref_clip(params, theta):
        ref("grad_clipping")(type("Net", (), {"params": params})(), theta)

    reference = train_language_model(ref("get_params"), ref("init_rnn_state"), ref("rnn"), ref_clip, train, held_out,
                                     len(chars), ctx.device, 0)
    return {"value": value, "reference": reference}
