"""Tests and smoke-check for exercise gru (d2l 11.1).

The visible tests (also in the student build) check get_params, init_gru_state and that gru continues a sequence
from the state it returned, against the learner's own gru: none of them needs the reference. The hidden unit
tests call the learner's gru with parameters the grader draws itself (the same values go to the reference),
larger than get_params's 0.01-scale ones so that the gates are far from 0.5 and every mistake shows in the
values. When the values are wrong, the grader recomputes the GRU with the usual mistakes made
on purpose (Z and 1 - Z swapped, the reset gate applied after the matmul as torch.nn.GRU does, a gate reading
another gate's weights, ...) and names the one the learner's result matches.

The smoke-check trains a character-level language model with the learner's get_params, init_gru_state and
gru on text generated here by a tiny fixed grammar (see `corpus`), and reports the held-out perplexity next
to the reference solution's on the same seed and data.
"""

import inspect
import itertools
import math
import random

import torch
import torch.nn.functional as F

from tutor.grading import Grader, TestFailure, check_tensor, check_type, describe, fmt_tensor
from tutor.grading.harness import INCONCLUSIVE, LearnerError
from tutor.grading.remote import RemoteError
from tutor.grading.train import Adam

grader = Grader("gru")

NAMES = ["W_xz", "W_hz", "b_z", "W_xr", "W_hr", "b_r", "W_xh", "W_hh", "b_h", "W_hq", "b_q"]
ORDER = "[W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h, W_hq, b_q]"
ATOL, RTOL = 1e-5, 1e-4

# Unit tests use vocab_size != num_hiddens so that no input weight has the shape of a hidden one.
VOCAB, HIDDEN = 5, 4


def param_shapes(vocab_size, num_hiddens):
    gate = [(vocab_size, num_hiddens), (num_hiddens, num_hiddens), (num_hiddens,)]
    return gate * 3 + [(num_hiddens, vocab_size), (vocab_size,)]


def shared_params(device, seed, vocab_size=VOCAB, num_hiddens=HIDDEN, requires_grad=False):
    """Random parameters in the course's order; weights ~ N(0, 0.8²) and biases ~ N(0, 0.5²), so the gates vary."""
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
    """A nonzero initial hidden state, so a gru that ignores `state` shows."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn((batch, num_hiddens), generator=gen) * 0.6).to(device)


def clones(params, requires_grad=False):
    return [p.detach().clone().requires_grad_(requires_grad) for p in params]


# -- the GRU, computed with and without the usual mistakes ---------------------------------------------------------

def run_gru(inputs, H, params, *, swap_update=False, reset="before", output_from_old=False, gate=torch.sigmoid,
            detach_state=False, update=True):
    """The GRU of the lesson; the keyword arguments switch on one typical mistake each."""
    W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h, W_hq, b_q = params
    outputs = []
    for X in inputs:
        if detach_state:  # gradients stop at every step (the returned state stays attached to the last one)
            H = H.detach()
        Z = gate(X @ W_xz + H @ W_hz + b_z)
        R = gate(X @ W_xr + H @ W_hr + b_r)
        if reset == "before":
            hidden = (R * H) @ W_hh + b_h
        elif reset == "after":
            hidden = R * (H @ W_hh) + b_h
        elif reset == "after_with_bias":
            hidden = R * (H @ W_hh + b_h)
        else:  # no reset gate at all
            hidden = H @ W_hh + b_h
        H_tilde = torch.tanh(X @ W_xh + hidden)
        H_new = (1 - Z) * H + Z * H_tilde if swap_update else Z * H + (1 - Z) * H_tilde
        outputs.append((H if output_from_old else H_new) @ W_hq + b_q)
        if update:
            H = H_new
    return torch.cat(outputs, dim=0), H


def never_updated():
    return TestFailure("  H is never updated: every step starts from the initial state. Assign the new state to H inside "
                       "the loop (H = Z ⊙ H + (1 - Z) ⊙ H~), so that this step's output and the next step use it.",
                       mistake="gru.state_never_updated")


def replaced_weight(gate, used, name, own):
    """`used` read where `name` belongs, in gate 0 (Z), 1 (R) or 2 (the candidate)."""
    if gate == 0:
        return TestFailure("  They match a GRU that uses {used} where {name} belongs: the update gate Z must use its own "
                           "weights ({own}).", mistake="gru.gate_weights_mixed", used=used, name=name, own=own)
    if gate == 1:
        return TestFailure("  They match a GRU that uses {used} where {name} belongs: the reset gate R must use its own "
                           "weights ({own}).", mistake="gru.gate_weights_mixed", used=used, name=name, own=own)
    return TestFailure("  They match a GRU that uses {used} where {name} belongs: the candidate state H~ must use its "
                       "own weights ({own}).", mistake="gru.gate_weights_mixed", used=used, name=name, own=own)


def swapped_weights(gates, first, second):
    """`first` and `second` swapped between the gates (a, b), a < b."""
    if gates == (0, 1):
        return TestFailure("  They match a GRU with {first} and {second} swapped: the update gate Z and the reset gate R "
                           "use each other's weights.", mistake="gru.gate_weights_swapped", first=first, second=second)
    if gates == (0, 2):
        return TestFailure("  They match a GRU with {first} and {second} swapped: the update gate Z and the candidate "
                           "state H~ use each other's weights.", mistake="gru.gate_weights_swapped", first=first,
                           second=second)
    return TestFailure("  They match a GRU with {first} and {second} swapped: the reset gate R and the candidate state H~ "
                       "use each other's weights.", mistake="gru.gate_weights_swapped", first=first, second=second)


def variants(inputs, H0, params):
    """(outputs, final H, explanation) for each typical mistake, the conceptual ones first; each explanation is a
    TestFailure part that names the mistake."""
    found = [
        (run_gru(inputs, H0, params, swap_update=True),
         TestFailure("  They match a GRU with Z and 1 - Z swapped. The update gate decides how much of the OLD state "
                     "survives: H = Z ⊙ H_old + (1 - Z) ⊙ H~. With Z close to 1 the state is kept, with Z close to 0 it "
                     "is replaced by the candidate.", mistake="gru.update_gate_swapped")),
        (run_gru(inputs, H0, params, reset="after"),
         TestFailure("  They match a GRU that applies the reset gate AFTER the matmul, R ⊙ (H W_hh), the way "
                     "torch.nn.GRU does. This course resets the state before it enters the matmul: "
                     "H~ = tanh(X W_xh + (R ⊙ H) W_hh + b_h).", mistake="gru.reset_after_matmul")),
        (run_gru(inputs, H0, params, reset="after_with_bias"),
         TestFailure("  They match torch.nn.GRU's convention, R ⊙ (H W_hh + b_h): the reset gate is applied after the "
                     "matmul and to the bias. This course resets the state before the matmul: "
                     "H~ = tanh(X W_xh + (R ⊙ H) W_hh + b_h).", mistake="gru.reset_after_matmul_with_bias")),
        (run_gru(inputs, H0, params, reset="none"),
         TestFailure("  They match a GRU without a reset gate: the candidate must use R ⊙ H, not H: "
                     "H~ = tanh(X W_xh + (R ⊙ H) W_hh + b_h).", mistake="gru.reset_gate_missing")),
        (run_gru(inputs, H0, params, output_from_old=True),
         TestFailure("  Each step's output is computed from the state BEFORE this step's update. Update H first, then "
                     "Y = H W_hq + b_q with the new H.", mistake="gru.output_before_update")),
        (run_gru(inputs, H0, params, update=False, output_from_old=True), never_updated()),
        (run_gru(inputs, H0, params, update=False), never_updated()),
        ((torch.zeros_like(run_gru(inputs, H0, params)[0]), H0),
         TestFailure("  Your outputs are all zero: each step's output is Y = H W_hq + b_q, computed from the updated H.",
                     mistake="gru.outputs_zero")),
        (run_gru(inputs, torch.zeros_like(H0), params),
         TestFailure("  They match a GRU that starts from a zero state: the initial state passed in `state` is ignored. "
                     "Unpack it with `H, = state` and start from that H (the course passes the previous minibatch's "
                     "state back in).", mistake="gru.initial_state_ignored")),
        (run_gru(inputs, H0, params, gate=torch.tanh),
         TestFailure("  They match a GRU whose gates use tanh: Z and R are sigmoids (values between 0 and 1); only the "
                     "candidate H~ uses tanh.", mistake="gru.gates_tanh")),
    ]
    # A gate that reads another gate's weights: one tensor used in place of another, two swapped, or whole
    # (W_x*, W_h*, b_*) triples in the wrong order (the params list unpacked in a different order).
    for i, j in itertools.permutations(range(9), 2):
        if i % 3 != j % 3:
            continue
        replaced = list(params)
        replaced[i] = params[j]
        own = ", ".join(NAMES[i - i % 3:i - i % 3 + 3])
        found.append((run_gru(inputs, H0, replaced), replaced_weight(i // 3, NAMES[j], NAMES[i], own)))
    for i, j in itertools.combinations(range(9), 2):
        if i % 3 != j % 3:
            continue
        swapped = list(params)
        swapped[i], swapped[j] = params[j], params[i]
        found.append((run_gru(inputs, H0, swapped), swapped_weights((i // 3, j // 3), NAMES[i], NAMES[j])))
    for order in itertools.permutations(range(3)):
        if order == (0, 1, 2):
            continue
        permuted = [params[3 * k + m] for k in order for m in range(3)] + list(params[9:])
        found.append((run_gru(inputs, H0, permuted),
                      TestFailure("  They match a GRU that unpacks params in a different order: get_params returns, "
                                  "and gru must unpack, {order}.", mistake="gru.params_order", order=ORDER)))
    return [(o, h, why) for (o, h), why in found]


def close(a, b):
    return a.shape == b.shape and a.device == b.device and bool(
        torch.allclose(a.detach().to(torch.float64), b.detach().to(torch.float64), atol=ATOL, rtol=RTOL))


# -- calling the learner's functions -------------------------------------------------------------------------

def show(value):
    return str(value) if isinstance(value, torch.device) else describe(value)


def learner_fn(ctx, name):
    """ctx.fn(name), but a call is described with its device spelled out: get_params(..., device: cpu)."""
    fn = ctx.fn(name)  # checks that it exists and accepts the course's signature
    names = list(inspect.signature(ctx.declaration(name)).parameters)

    def text(*args):
        return f"{name}({', '.join(f'{n}: {show(a)}' for n, a in zip(names, args))})"

    def call(*args):
        try:
            return fn.__wrapped__(*args)
        except RemoteError as exc:  # everything the learner's code raises becomes a verdict
            raise LearnerError(ctx.explain(exc, text(*args)), exc) from None

    call.__wrapped__ = fn.__wrapped__
    call.describe = text
    return call


def unpack_result(result, what, steps, batch, vocab_size, num_hiddens, strict_state=False, stacked_ok=False):
    """Check gru's (outputs, (H,)) and return (outputs, H). Unless strict_state, the state may also be a bare
    tensor or a 1-list (the test of the returned state reports those); with stacked_ok, outputs of shape
    (steps, batch, vocab_size) are flattened (for tests about something else: the value tests report them)."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        if result is None:
            raise TestFailure("{what} returned None; expected the pair (outputs, (H,)): the outputs of every step, "
                              "concatenated, and the final state as a 1-tuple. Did you forget a `return` statement?",
                              what=what)
        raise TestFailure("{what} returned {got}; expected the pair (outputs, (H,)): the outputs of every step, "
                          "concatenated, and the final state as a 1-tuple.", what=what, got=describe(result))
    outputs, state = result
    if isinstance(outputs, (list, tuple)):
        if len(outputs) == 1:
            raise TestFailure("{what} returned the outputs as a Python {type} of 1 item; join them "
                              "into one tensor with torch.cat(outputs, dim=0), of shape (steps · batch, vocab_size) = "
                              "({rows}, {vocab_size}).", mistake="gru.outputs_not_concatenated", what=what,
                              type=type(outputs).__name__, rows=steps * batch, vocab_size=vocab_size)
        raise TestFailure("{what} returned the outputs as a Python {type} of {n} items; join them into one tensor with "
                          "torch.cat(outputs, dim=0), of shape (steps · batch, vocab_size) = ({rows}, {vocab_size}).",
                          mistake="gru.outputs_not_concatenated", what=what, type=type(outputs).__name__,
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
                "b and the outputs line up with the flattened labels in the loss.", mistake="gru.outputs_stacked"))
        elif tuple(outputs.shape) == (batch, vocab_size):
            failure.with_part(TestFailure(
                "  The shape is (batch, vocab_size): only one step's output. Collect the output of every step and "
                "torch.cat them.", mistake="gru.only_one_output"))
        elif tuple(outputs.shape) == (steps * batch, num_hiddens):
            failure.with_part(TestFailure(
                "  The shape is (steps · batch, num_hiddens): these are hidden states. Each step's output is "
                "Y = H W_hq + b_q.", mistake="gru.outputs_are_states"))
        else:
            failure.with_part(TestFailure("  Append Y = H W_hq + b_q at each step and torch.cat(outputs, dim=0)."))
        raise failure
    if isinstance(state, torch.Tensor) and not strict_state:
        H = state
    elif isinstance(state, list) and len(state) == 1 and not strict_state:
        H = state[0]
    else:
        H = unpack_state(state, what)
    check_type(H, what + " (the final state H)")
    if tuple(H.shape) != (batch, num_hiddens):
        raise TestFailure("{what} returned a final state H of shape {shape}; expected (batch, num_hiddens) = "
                          "({batch}, {num_hiddens}).", what=what, shape=str(tuple(H.shape)), batch=batch,
                          num_hiddens=num_hiddens)
    return outputs, H


def unpack_state(state, what, init=False):
    """H from a state that must be the 1-tuple (H,); `init` when it comes from init_gru_state (the mistake ids
    differ)."""
    if isinstance(state, torch.Tensor):
        raise TestFailure("{what} returned the state as a bare tensor {got}; return the 1-tuple (H,) (note the "
                          "trailing comma). The course passes the state back into the next call and unpacks it with "
                          "`H, = state`; a bare (batch, num_hiddens) tensor would be unpacked row by row instead.",
                          mistake="gru.init_state_bare_tensor" if init else "gru.state_bare_tensor", what=what,
                          got=describe(state))
    if isinstance(state, list):
        raise TestFailure("{what} returned the state as a list {got}; return a tuple: (H,), with the trailing comma.",
                          mistake="gru.init_state_list" if init else "gru.state_list", what=what, got=describe(state))
    if not isinstance(state, tuple):
        raise TestFailure("{what} returned the state as {got}; expected the 1-tuple (H,).", what=what,
                          got=describe(state))
    if len(state) != 1:
        raise TestFailure("{what} returned a state tuple with {n} items, {got}; a GRU has a single hidden state: "
                          "return (H,).", what=what, n=len(state), got=describe(state))
    return state[0]


def diagnose(outputs, inputs, H0, params):
    """The explanation (a TestFailure part) of the first typical mistake the learner's outputs match, or None."""
    expected, expected_H = run_gru(inputs, H0, params)
    for v_out, v_H, why in variants(inputs, H0, params):
        if close(v_out, expected) and close(v_H, expected_H):
            continue  # this mistake makes no difference on these inputs
        if close(outputs, v_out):
            return why
    return None


def check_gru(ctx, steps, batch, seed):
    """Call the learner's gru on shared parameters and a nonzero initial state; compare with the reference."""
    fn = learner_fn(ctx, "gru")
    params = shared_params(ctx.device, seed)
    inputs = one_hot_inputs(steps, batch, ctx.device, seed + 1)
    H0 = start_state(batch, ctx.device, seed + 2)
    what = fn.describe(inputs, (H0,), params)
    result = fn(inputs.clone(), (H0.clone(),), clones(params))
    outputs, H = unpack_result(result, what, steps, batch, VOCAB, HIDDEN)
    expected, (expected_H,) = ctx.ref("gru")(inputs, (H0,), params)
    if outputs.device == expected.device and not close(outputs, expected):
        why = diagnose(outputs, inputs, H0, params)
        if why is not None:
            raise TestFailure("{what} returned the wrong outputs (shared parameters, the same for your gru and the "
                              "reference; a nonzero initial state).\n  expected: {expected}\n  got:      {got}",
                              what=what, expected=fmt_tensor(expected), got=fmt_tensor(outputs)).with_part(why)
    check_tensor(outputs, expected, what + "[0] (the outputs)", atol=ATOL, rtol=RTOL)
    if H.device == expected_H.device and not close(H, expected_H):
        failure = TestFailure("{what}: the outputs are right, but the final state is not.\n  expected: {expected}\n"
                              "  got:      {got}", what=what, expected=fmt_tensor(expected_H), got=fmt_tensor(H))
        if close(H, H0):
            failure.with_part(TestFailure("  That is the initial state: return the state after the last step.",
                                          mistake="gru.returns_initial_state"))
        elif steps > 1 and close(H, run_gru(inputs[:1], H0, params)[1]):
            failure.with_part(TestFailure("  That is the state after the first step: return the state after the last "
                                          "step.", mistake="gru.returns_first_state"))
        raise failure
    check_tensor(H, expected_H, what + " (the final state H)", atol=ATOL, rtol=RTOL)


def flatten(value, depth=0):
    """The tensors in a (nested) list or tuple, in order."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)) and depth < 3:
        return [t for item in value for t in flatten(item, depth + 1)]
    return []


META_ADVICE = ("  Create new tensors with device=device (or the device of the tensors you were given) so your code "
               "also works on a GPU; we check this with tensors on PyTorch's 'meta' device, a stand-in for a GPU.")


def probe_on_meta(ctx, name, args, labels):
    """Call the learner's function on meta tensors; every tensor it returns (labelled in order) must be on meta."""
    fn = learner_fn(ctx, name)
    what = fn.describe(*args)
    got = ctx.run_on_meta(what, lambda: fn.__wrapped__(*args), META_ADVICE)
    if got is INCONCLUSIVE:
        return
    for i, t in enumerate(flatten(got)):
        if t.device.type != "meta":
            if i < len(labels):
                raise TestFailure("{what} returned {label} on {device}, not on the device it was given. Create new "
                                  "tensors with device=device (or the device of the tensors you were given) so your "
                                  "code also works on a GPU; we check this with tensors on PyTorch's 'meta' device, a "
                                  "stand-in for a GPU.", what=what, label=labels[i], device=str(t.device))
            raise TestFailure("{what} returned a tensor of shape {shape} on {device}, not on the device it was given. "
                              "Create new tensors with device=device (or the device of the tensors you were given) so "
                              "your code also works on a GPU; we check this with tensors on PyTorch's 'meta' device, a "
                              "stand-in for a GPU.", what=what, shape=str(tuple(t.shape)), device=str(t.device))


# -- get_params and init_gru_state ---------------------------------------------------------------------------------

@grader.test("get_params: eleven leaf tensors with the right shapes, small random weights, zero biases", points=2)
def params_shapes(ctx):
    """get_params(7, 6, device): the course's order, float32 leaves that require grad (the devices are the device
    test's business)."""
    fn = learner_fn(ctx, "get_params")
    vocab_size, num_hiddens = 7, 6
    what = fn.describe(vocab_size, num_hiddens, ctx.device)
    params = fn(vocab_size, num_hiddens, ctx.device)
    if not isinstance(params, (list, tuple)):
        raise TestFailure("{what} returned {got}; expected a list of 11 tensors {order}.", what=what,
                          got=describe(params), order=ORDER)
    if len(params) != 11:
        raise TestFailure("{what} returned {n} items; expected 11: {order} (three gate triples, then the output "
                          "layer).", what=what, n=len(params), order=ORDER)
    for name, p, shape in zip(NAMES, params, param_shapes(vocab_size, num_hiddens)):
        check_type(p, f"{what}: {name}")
        if tuple(p.shape) != shape:
            if tuple(p.shape) == shape[::-1] and len(shape) == 2:
                raise TestFailure("{what}: {name} has shape {shape}; expected {expected} with vocab_size = "
                                  "{vocab_size} and num_hiddens = {num_hiddens}. The order is {order}. It is "
                                  "transposed: X of shape (batch, vocab_size) multiplies from the left, X @ W_x*, so "
                                  "input weights are (vocab_size, num_hiddens) and W_hq is (num_hiddens, vocab_size).",
                                  mistake="gru.weight_transposed", what=what, name=name, shape=str(tuple(p.shape)),
                                  expected=str(shape), vocab_size=vocab_size, num_hiddens=num_hiddens, order=ORDER)
            raise TestFailure("{what}: {name} has shape {shape}; expected {expected} with vocab_size = {vocab_size} "
                              "and num_hiddens = {num_hiddens}. The order is {order}.", what=what, name=name,
                              shape=str(tuple(p.shape)), expected=str(shape), vocab_size=vocab_size,
                              num_hiddens=num_hiddens, order=ORDER)
        if p.dtype != torch.float32:
            raise TestFailure("{what}: {name} has dtype {dtype}; expected torch.float32 (torch.randn's and "
                              "torch.zeros's default).", what=what, name=name, dtype=str(p.dtype))
        if not p.requires_grad:
            raise TestFailure("{what}: {name} does not require grad, so training could never change it. Call "
                              "p.requires_grad_(True) on every parameter.", mistake="gru.params_no_grad", what=what,
                              name=name)
        if not p.is_leaf:
            raise TestFailure("{what}: {name} is not a leaf tensor: it was computed from another tensor that requires "
                              "grad (e.g. torch.randn(..., requires_grad=True) * 0.01), so its .grad stays None and an "
                              "optimizer cannot update it. Scale first, then call .requires_grad_(True).",
                              mistake="gru.params_not_leaf", what=what, name=name)
    if len({id(p) for p in params}) != len(params):
        raise TestFailure("{what} returned the same tensor object more than once; every parameter needs its own "
                          "tensor.", mistake="gru.params_shared", what=what)
    with torch.no_grad():
        for name, p in zip(NAMES, params):
            if name.startswith("b"):
                if bool((p != 0).any()):
                    raise TestFailure("{what}: the bias {name} is {value}; biases start at zero "
                                      "(torch.zeros(..., device=device)).", mistake="gru.bias_not_zero", what=what,
                                      name=name, value=fmt_tensor(p))
                continue
            std = float(p.double().std())
            if not bool((p != p.reshape(-1)[0]).any()):
                raise TestFailure("{what}: every entry of the weight {name} is {value:g}. Weights start as small random "
                                  "numbers, e.g. torch.randn(shape, device=device) * 0.01, so that the hidden units "
                                  "differ from one another.", mistake="gru.weights_constant", what=what, name=name,
                                  value=float(p.reshape(-1)[0]))
            if std > 0.2:
                raise TestFailure("{what}: the weight {name} has standard deviation {std:.3g}; start with small random "
                                  "numbers, e.g. torch.randn(shape, device=device) * 0.01, so the gates and the tanh "
                                  "start away from saturation.", mistake="gru.weights_too_large", what=what, name=name,
                                  std=std)


@grader.test("init_gru_state returns the tuple (H,) with H zeros of shape (batch_size, num_hiddens)", points=1)
def initial_state(ctx):
    fn = learner_fn(ctx, "init_gru_state")
    device = torch.empty(0, device=ctx.device).device
    for batch_size, num_hiddens in ((3, 5), (1, 4)):
        what = fn.describe(batch_size, num_hiddens, ctx.device)
        state = fn(batch_size, num_hiddens, ctx.device)
        H = unpack_state(state, what, init=True)
        check_type(H, what + "[0]")
        if H.device != device:  # where H lives is the device test's business
            H = H.to(device)
        check_tensor(H, torch.zeros((batch_size, num_hiddens), device=device), what + "[0]")


# -- gru -----------------------------------------------------------------------------------------------------------

@grader.test("gru: the outputs and the final state follow the GRU equations (shared parameters, T = 5, B = 3)",
             points=2, hidden=True)
def outputs_and_state(ctx):
    """Random parameters, the same for the learner and the reference; one-hot inputs; a nonzero initial state."""
    check_gru(ctx, steps=5, batch=3, seed=10)
    check_gru(ctx, steps=3, batch=2, seed=20)


@grader.test("gru returns its state as the tuple (H,), and passing it back in continues the sequence", points=1)
def state_continues(ctx):
    """gru on steps 0-2, then gru on steps 3-5 with the returned state, equals your own gru on steps 0-5 (so this
    test does not depend on the equations being right)."""
    fn = learner_fn(ctx, "gru")
    params = shared_params(ctx.device, 30)
    inputs = one_hot_inputs(6, 2, ctx.device, 31)
    H0 = start_state(2, ctx.device, 32)
    what = fn.describe(inputs[:3], (H0,), params)
    result = fn(inputs[:3].clone(), (H0.clone(),), clones(params))
    first, _ = unpack_result(result, what, 3, 2, VOCAB, HIDDEN, strict_state=True, stacked_ok=True)
    state = result[1]
    what2 = fn.describe(inputs[3:], state, params)
    second, _ = unpack_result(fn(inputs[3:].clone(), state, clones(params)), what2, 3, 2, VOCAB, HIDDEN,
                              strict_state=True, stacked_ok=True)
    what_all = fn.describe(inputs, (H0,), params)
    whole, _ = unpack_result(fn(inputs.clone(), (H0.clone(),), clones(params)), what_all, 6, 2, VOCAB, HIDDEN,
                             stacked_ok=True)
    if whole.device == second.device and not close(torch.cat([first, second]), whole):
        raise TestFailure("{what} and two calls on its halves, the second starting from the state the first returned, "
                          "disagree on steps 3-5:\n  one call:  {whole}\n  two calls: {second}\n  gru must start "
                          "from the H it is given (`H, = state`) and return the state after its last step, so that "
                          "the course can feed one minibatch's final state into the next.", what=what_all,
                          whole=fmt_tensor(whole[6:]), second=fmt_tensor(second))


def learner_loss(fn, inputs, H0, params, G, G_H, what, use_state=True):
    """(outputs, H, loss) with loss = (outputs · G).sum() + (H · G_H).sum() (without the H term if not use_state)."""
    outputs, H = unpack_result(fn(inputs.clone(), (H0.clone(),), params), what, inputs.shape[0], inputs.shape[1],
                               VOCAB, HIDDEN, stacked_ok=True)
    return outputs, H, (outputs * G).sum() + ((H * G_H).sum() if use_state else 0.0)


@grader.test("gradients reach every parameter and flow back through time", points=1, hidden=True)
def gradients(ctx):
    """loss = (outputs · G).sum() + (H · G').sum(). When your gru's values match the reference, every
    parameter's gradient must match the reference's; when they do not (the tests above say why), the gradients
    must at least match finite differences of your own gru."""
    fn = learner_fn(ctx, "gru")
    params = shared_params(ctx.device, 40)
    inputs = one_hot_inputs(4, 2, ctx.device, 41)
    H0 = start_state(2, ctx.device, 42)
    gen = torch.Generator().manual_seed(43)
    G = torch.randn((8, VOCAB), generator=gen).to(ctx.device)
    G_H = torch.randn((2, HIDDEN), generator=gen).to(ctx.device)
    mine = clones(params, requires_grad=True)
    what = fn.describe(inputs, (H0,), mine)
    outputs, H, _ = learner_loss(fn, inputs, H0, mine, G, G_H, what, use_state=False)
    if not outputs.requires_grad:
        raise TestFailure("{what} returned outputs that autograd cannot differentiate (requires_grad=False), so no "
                          "parameter could be trained. Keep every step a tensor operation on the parameters: "
                          ".detach(), .item(), torch.no_grad() or torch.tensor(...) cut the graph.",
                          mistake="gru.outputs_not_differentiable", what=what)
    use_state = H.requires_grad
    if not use_state and not close(H, H0):  # returning the initial state is reported by the value tests
        raise TestFailure("{what} returned a final state that autograd cannot differentiate: the state carried to the "
                          "next minibatch must stay connected to the parameters (do not .detach() it inside gru; the "
                          "training loop decides when to detach).", mistake="gru.final_state_detached", what=what)
    loss = (outputs * G).sum() + ((H * G_H).sum() if use_state else 0.0)
    grads = torch.autograd.grad(loss, mine, allow_unused=True)
    for name, g in zip(NAMES, grads):
        if g is None:
            raise TestFailure("no gradient reaches {name}: your gru's outputs and final state do not depend on it "
                              "through differentiable operations. Check that every parameter is used, in the order "
                              "{order}, and that H is not detached (.detach(), .data) inside gru.", name=name,
                              order=ORDER)
    expected, expected_H = run_gru(inputs, H0, params)
    if close(outputs, expected) and close(H, expected_H):
        detached = clones(params, requires_grad=True)
        d_out, d_H = run_gru(inputs, H0, detached, detach_state=True)
        detached_grads = torch.autograd.grad((d_out * G).sum() + (d_H * G_H).sum(), detached)
        if all(close(g, d) for g, d in zip(grads, detached_grads)):
            raise TestFailure("the gradients of {what} stop at every time step: H is detached between steps, so no "
                              "gradient flows back through time and the GRU cannot learn what earlier steps should "
                              "remember. Do not call .detach() (or .data) on H inside gru.",
                              mistake="gru.state_detached", what=what)
        ref_params = clones(params, requires_grad=True)
        r_out, (r_H,) = ctx.ref("gru")(inputs, (H0,), ref_params)
        ref_grads = torch.autograd.grad((r_out * G).sum() + (r_H * G_H).sum(), ref_params)
        for name, g, r in zip(NAMES, grads, ref_grads):
            try:
                check_tensor(g, r, f"the gradient with respect to {name} of (outputs · G).sum() + (H · G').sum(), "
                                   f"where (outputs, (H,)) = {what}", atol=1e-4, rtol=1e-4)
            except TestFailure as failure:
                raise failure.with_part(TestFailure(
                    "  Your outputs and final state are right, so part of the computation is hidden from autograd: "
                    "no .detach(), .data, .item() or torch.no_grad() inside gru.",
                    mistake="gru.hidden_from_autograd")) from None
        return
    # The values are wrong (the value tests say why). Check that autograd sees the function the code computes:
    # for each parameter, autograd's directional derivative must match a central finite difference.
    gen = torch.Generator().manual_seed(45)
    eps = 1e-2
    for i, (name, g) in enumerate(zip(NAMES, grads)):
        v = torch.randn(params[i].shape, generator=gen).to(ctx.device)
        values = []
        for sign in (1, -1):
            shifted = clones(params)
            shifted[i] = shifted[i] + sign * eps * v
            with torch.no_grad():
                values.append(float(learner_loss(fn, inputs, H0, shifted, G, G_H, what, use_state)[2]))
        numeric = (values[0] - values[1]) / (2 * eps)
        analytic = float((g * v).sum())
        if abs(numeric - analytic) > 1e-2 + 2e-2 * abs(numeric):
            raise TestFailure("the gradient that autograd computes for {name} through {what} does not match how the "
                              "loss really changes with {name} (a directional derivative of {analytic:.4g} from "
                              "autograd, {numeric:.4g} from finite differences). Part of the computation is hidden "
                              "from autograd: no .detach(), .data, .item() or torch.no_grad() inside gru.",
                              mistake="gru.hidden_from_autograd", name=name, what=what, analytic=analytic,
                              numeric=numeric)


@grader.test("gru with one time step (T = 1) and with a batch of one (B = 1)", points=1, hidden=True)
def edge_sizes(ctx):
    for steps, batch, seed in ((1, 3, 50), (4, 1, 60), (1, 1, 70)):
        check_gru(ctx, steps=steps, batch=batch, seed=seed)


@grader.test("everything lives on the device it was given", points=1, hidden=True)
def devices(ctx):
    """Results on ctx.device; on a CPU-only machine, code that creates tensors without device= is also run on
    PyTorch's meta device. Only where tensors live counts here: shapes and values are the other tests' business."""
    device = torch.empty(0, device=ctx.device).device
    params = learner_fn(ctx, "get_params")(VOCAB, HIDDEN, ctx.device)
    for name, p in zip(NAMES, params if isinstance(params, (list, tuple)) else []):
        if isinstance(p, torch.Tensor) and p.device != device:
            raise TestFailure("get_params(vocab_size: {vocab_size}, num_hiddens: {num_hiddens}, device: {device}) put "
                              "{name} on {got}. Create every tensor with device=device.", vocab_size=VOCAB,
                              num_hiddens=HIDDEN, device=str(ctx.device), name=name, got=str(p.device))
    state = learner_fn(ctx, "init_gru_state")(2, HIDDEN, ctx.device)
    for H in flatten(state):
        if H.device != device:
            raise TestFailure("init_gru_state(batch_size: 2, num_hiddens: {num_hiddens}, device: {device}) returned H "
                              "on {got}. Create it with torch.zeros(..., device=device).", num_hiddens=HIDDEN,
                              device=str(ctx.device), got=str(H.device))
    fn = learner_fn(ctx, "gru")
    inputs, H0 = one_hot_inputs(2, 2, ctx.device, 80), start_state(2, ctx.device, 81)
    params = shared_params(ctx.device, 82)
    what = fn.describe(inputs, (H0,), params)
    result = fn(inputs, (H0,), params)
    pair = isinstance(result, (tuple, list)) and len(result) == 2
    for t in flatten(result[0] if pair else result):
        if t.device != device:
            raise TestFailure("{what} returned its outputs on {got}, but its inputs are on {device}. Create new "
                              "tensors on the inputs' device and avoid .cpu() or .numpy().", what=what,
                              got=str(t.device), device=str(device))
    for t in flatten(result[1] if pair else []):
        if t.device != device:
            raise TestFailure("{what} returned its final state H on {got}, but its inputs are on {device}. Create new "
                              "tensors on the inputs' device and avoid .cpu() or .numpy().", what=what,
                              got=str(t.device), device=str(device))
    if not ctx.should_probe_devices():
        return
    meta = torch.device("meta")
    probe_on_meta(ctx, "get_params", (VOCAB, HIDDEN, meta), NAMES)
    probe_on_meta(ctx, "init_gru_state", (2, HIDDEN, meta), ["H"])
    inputs = torch.zeros((3, 2, VOCAB), device=meta)
    params = [torch.zeros(shape, device=meta) for shape in param_shapes(VOCAB, HIDDEN)]
    probe_on_meta(ctx, "gru", (inputs, (torch.zeros((2, HIDDEN), device=meta),), params), ["outputs", "H"])


# -- smoke-check ---------------------------------------------------------------------------------------------------

# The corpus: sentences from a tiny fixed grammar, drawn with Python's random.Random (its choice() and random()
# sequences are stable across Python versions), so the text is the same on every machine. Vocabulary: the 26
# lowercase letters, space and full stop. Unigram perplexity ≈ 18, bigram ≈ 4.6; the reference GRU gets ≈ 1.9.
DETS = ["the", "a", "my", "one"]
ADJS = ["red", "big", "old", "tiny", "green", "quick", "lazy"]
NOUNS = ["cat", "dog", "fox", "bird", "fish", "mouse", "horse", "frog", "wolf"]
VERBS = ["sees", "likes", "chases", "bites", "finds", "hears", "jumps over", "waits for"]
CHARS = sorted(set(" .".join(DETS + ADJS + NOUNS + VERBS)))


def corpus(seed, n_chars):
    """`n_chars` characters of sentences like "the quick fox jumps over my dog." from the grammar above."""
    rng = random.Random(seed)

    def phrase():
        words = [rng.choice(DETS)]
        if rng.random() < 0.5:
            words.append(rng.choice(ADJS))
        return words + [rng.choice(NOUNS)]

    sentences, size = [], 0
    while size < n_chars:
        sentence = " ".join(phrase() + [rng.choice(VERBS)] + phrase()) + "."
        sentences.append(sentence)
        size += len(sentence) + 1
    return " ".join(sentences)[:n_chars]


NUM_HIDDENS, NUM_STEPS, BATCH, TRAIN_STEPS, LR, CLIP = 32, 16, 32, 150, 0.02, 1.0


def train_language_model(get_params, init_gru_state, gru, train, held_out, device, seed, check=None, report=None,
                         seed_all=torch.manual_seed):
    """The course's RNNModelScratch in a few lines, trained on random windows with Adam and gradient clipping;
    returns the perplexity on held-out text. check(step, params, result) returns the outputs from gru's result
    (and may raise); report(step, loss) is called after every step; seed_all(seed) seeds wherever get_params
    draws its random numbers (the sandbox, for the learner's)."""
    vocab_size = len(CHARS)
    seed_all(seed)
    params = get_params(vocab_size, NUM_HIDDENS, device)
    if check is not None:
        check(0, params, None)
    gen = torch.Generator().manual_seed(seed)

    def forward(X, step):  # X: (batch, steps) token ids
        state = init_gru_state(X.shape[0], NUM_HIDDENS, device)
        result = gru(F.one_hot(X.T, vocab_size).to(torch.float32), state, params)
        return result[0] if check is None else check(step, params, result)

    def perplexity():
        windows = held_out[: held_out.numel() // (NUM_STEPS + 1) * (NUM_STEPS + 1)].reshape(-1, NUM_STEPS + 1)
        with torch.no_grad():
            outputs = forward(windows[:, :-1], None)
            return math.exp(float(F.cross_entropy(outputs, windows[:, 1:].T.reshape(-1))))

    optimizer = Adam(params, lr=LR)
    offsets = torch.arange(NUM_STEPS + 1, device=device)
    for step in range(1, TRAIN_STEPS + 1):
        starts = torch.randint(0, train.numel() - NUM_STEPS - 1, (BATCH,), generator=gen).to(device)
        windows = train[starts[:, None] + offsets]
        outputs = forward(windows[:, :-1], step)
        loss = F.cross_entropy(outputs, windows[:, 1:].T.reshape(-1))  # labels in the same (step, batch) order
        optimizer.zero_grad()
        loss.backward()
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            raise TestFailure("no gradient reached any parameter during training: the outputs of your gru must be "
                              "computed from the parameters with differentiable tensor operations.")
        norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
        if norm > CLIP:  # gradient clipping by the global norm, as in the course
            for g in grads:
                g *= CLIP / norm
        optimizer.step()
        if report is not None:
            report(step, float(loss.detach()))
    return perplexity()


@grader.smoke("a character-level language model with your GRU learns a small grammar", points=3,
              metric="held-out perplexity", goal="max", threshold=3.0, budget=10, hidden=True)
def language_model(ctx):
    """150 Adam steps on random 16-character windows of generated text (28 characters, 32 hidden units); the
    perplexity on held-out text must drop well below the unigram's ≈ 18. The reference gets ≈ 1.9."""
    get_params, init_gru_state, gru = (learner_fn(ctx, name) for name in ("get_params", "init_gru_state", "gru"))
    index = {c: i for i, c in enumerate(CHARS)}
    train = torch.tensor([index[c] for c in corpus(1000, 12000)], device=ctx.device)
    held_out = torch.tensor([index[c] for c in corpus(2000, 2040)], device=ctx.device)
    vocab_size = len(CHARS)
    held_batch = held_out.numel() // (NUM_STEPS + 1)

    def what(batch, where):
        return (f"gru(inputs: float32[{NUM_STEPS}, {batch}, {vocab_size}], state: tuple(float32[{batch}, "
                f"{NUM_HIDDENS}]), params) {where}")

    def check(step, params, result):
        if step == 0:  # the parameters from get_params
            call = f"get_params(vocab_size: {vocab_size}, num_hiddens: {NUM_HIDDENS}, device: {ctx.device})"
            if not isinstance(params, (list, tuple)) or len(params) != 11 or not all(
                    isinstance(p, torch.Tensor) and p.is_floating_point() for p in params):
                raise TestFailure("{call} returned {got}; expected a list of 11 float tensors {order}.", call=call,
                                  got=describe(params), order=ORDER)
            if not any(p.requires_grad for p in params):
                raise TestFailure("{call} returned parameters that do not require grad, so nothing can be trained: "
                                  "call p.requires_grad_(True) on each.", mistake="gru.params_no_grad", call=call)
            if not all(p.is_leaf for p in params):
                raise TestFailure("{call} returned parameters that are not leaf tensors (computed from another tensor "
                                  "that requires grad), so the optimizer cannot train them: scale first, then call "
                                  ".requires_grad_(True).", mistake="gru.params_not_leaf", call=call)
            return None
        # Outputs stacked to (steps, batch, vocab_size) still train (the value tests report the layout).
        if step is None:  # evaluation on held-out text, under torch.no_grad()
            return unpack_result(result, what(held_batch, "on the held-out text"), NUM_STEPS, held_batch,
                                 vocab_size, NUM_HIDDENS, stacked_ok=True)[0]
        outputs, _ = unpack_result(result, what(BATCH, "in the training loop"), NUM_STEPS, BATCH, vocab_size,
                                   NUM_HIDDENS, stacked_ok=True)
        if step == 1:
            if not outputs.requires_grad:
                raise TestFailure("{what} returned outputs that autograd cannot differentiate, so the model cannot "
                                  "learn. Compute the outputs from the parameters with tensor operations (no "
                                  ".detach(), .item(), torch.no_grad() or new tensors).",
                                  mistake="gru.outputs_not_differentiable", what=what(BATCH, "in the training loop"))
            if not bool(torch.isfinite(outputs).all()):
                raise TestFailure("{what} returned NaN or inf outputs at the first training step.",
                                  what=what(BATCH, "in the training loop"))
        return outputs

    def report(step, loss):
        if not math.isfinite(loss):
            raise TestFailure("the training loss became {loss} at step {step}; check the GRU equations.", loss=loss,
                              step=step)
        ctx.step(step, loss=loss)

    wrap_state = []  # [True] once gru turned out to want init_gru_state's bare tensor as the 1-tuple (H,)

    def gru_call(inputs, state, params):
        """The learner's gru on the learner's initial state. A bare tensor from init_gru_state that this gru cannot
        take is handed over as (H,): the test of init_gru_state reports it, and the model should still train."""
        if wrap_state:
            return gru(inputs, (state,), params)
        try:
            return gru(inputs, state, params)
        except LearnerError as err:
            if not isinstance(state, torch.Tensor):
                raise
            first = err
        try:
            result = gru(inputs, (state,), params)
        except LearnerError:
            raise first from None
        wrap_state.append(True)
        return result

    value = train_language_model(get_params, init_gru_state, gru_call, train, held_out, ctx.device, 0, check,
                                 report, seed_all=ctx.seed)
    ref = ctx.ref
    reference = train_language_model(ref("get_params"), ref("init_gru_state"), ref("gru"), train, held_out,
                                     ctx.device, 0)
    return {"value": value, "reference": reference}
