"""Tests and smoke-check for exercise lstm (d2l 11.2).

The visible tests (also in the student build) check get_lstm_params, init_lstm_state and that lstm continues a
sequence from the state it returned, against the learner's own lstm: none of them needs the reference. The hidden
unit tests call the learner's lstm with parameters the grader draws itself (the same values go to the reference),
larger than get_lstm_params's 0.01-scale ones so that the gates are far from 0.5, and with a nonzero initial H and
C, so that every mistake shows in the values. When the values are wrong, the grader recomputes the LSTM with the
usual mistakes made on purpose (the input and forget gates swapped, the memory cell not carried from step to step,
H = tanh(C) without the output gate, a sigmoid for the candidate cell, a gate reading another gate's weights, ...)
and names the one the learner's result matches.

The smoke-check trains a character-level language model with the learner's get_lstm_params, init_lstm_state and
lstm on text from the toolkit's small grammar (tutor.grading.text.grammar_text), and reports the held-out
perplexity next to the reference solution's on the same seed and data.
"""

import inspect
import itertools
import math

import torch
import torch.nn.functional as F

from tutor.grading import Grader, TestFailure, check_tensor, check_type, describe, fmt_tensor
from tutor.grading.harness import INCONCLUSIVE, LearnerError
from tutor.grading.remote import RemoteError
from tutor.grading.text import char_corpus, grammar_text
from tutor.grading.train import Adam

grader = Grader("lstm")

NAMES = ["W_xi", "W_hi", "b_i", "W_xf", "W_hf", "b_f", "W_xo", "W_ho", "b_o", "W_xc", "W_hc", "b_c", "W_hq", "b_q"]
ORDER = "[W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c, W_hq, b_q]"
GATES = ["I", "F", "O", "C~"]  # the four triples, in the order of get_lstm_params
ATOL, RTOL = 1e-5, 1e-4

# Unit tests use vocab_size != num_hiddens so that no input weight has the shape of a hidden one.
VOCAB, HIDDEN = 5, 4


def param_shapes(vocab_size, num_hiddens):
    gate = [(vocab_size, num_hiddens), (num_hiddens, num_hiddens), (num_hiddens,)]
    return gate * 4 + [(num_hiddens, vocab_size), (vocab_size,)]


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
    """A nonzero initial (H, C), so an lstm that ignores `state` (or half of it) shows."""
    gen = torch.Generator().manual_seed(seed)
    H = torch.randn((batch, num_hiddens), generator=gen) * 0.6
    C = torch.randn((batch, num_hiddens), generator=gen)
    return H.to(device), C.to(device)


def clones(params, requires_grad=False):
    return [p.detach().clone().requires_grad_(requires_grad) for p in params]


# -- the LSTM, computed with and without the usual mistakes --------------------------------------------------------

def run_lstm(inputs, H, C, params, *, swap_input_forget=False, carry_cell=True, forget_term=True, output_gate=True,
             cell_tanh=True, candidate=torch.tanh, gate=torch.sigmoid, output_from_old=False, update=True,
             detach_state=False):
    """The LSTM of the lesson; the keyword arguments switch on one typical mistake each. Returns (outputs, H, C)."""
    W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c, W_hq, b_q = params
    outputs = []
    for X in inputs:
        if detach_state:  # gradients stop at every step (the returned state stays attached to the last one)
            H, C = H.detach(), C.detach()
        I = gate(X @ W_xi + H @ W_hi + b_i)
        F_ = gate(X @ W_xf + H @ W_hf + b_f)
        O = gate(X @ W_xo + H @ W_ho + b_o)
        C_tilde = candidate(X @ W_xc + H @ W_hc + b_c)
        if not forget_term:
            C_new = I * C_tilde
        elif swap_input_forget:
            C_new = I * C + F_ * C_tilde
        else:
            C_new = F_ * C + I * C_tilde
        memory = torch.tanh(C_new) if cell_tanh else C_new
        H_new = O * memory if output_gate else memory
        outputs.append((H if output_from_old else H_new) @ W_hq + b_q)
        if update:
            H = H_new
            if carry_cell:
                C = C_new
    return torch.cat(outputs, dim=0), H, C


def never_updated():
    return TestFailure("  H is never updated: every step starts from the initial state. Assign the new state to H inside "
                       "the loop (H = O ⊙ tanh(C)), so that this step's output and the next step use it.",
                       mistake="lstm.state_never_updated")


def variants(inputs, H0, C0, params):
    """(outputs, final H, final C, explanation) for each typical mistake, the conceptual ones first; each explanation
    is a TestFailure part that names the mistake."""
    found = [
        (run_lstm(inputs, H0, C0, params, swap_input_forget=True),
         TestFailure("  They match an LSTM with the input gate and the forget gate swapped: C = I ⊙ C_old + F ⊙ C~. "
                     "The forget gate decides how much of the OLD cell survives and the input gate how much of the "
                     "candidate enters: C = F ⊙ C_old + I ⊙ C~. (Unpacking the I and F triples of params in each "
                     "other's place gives the same values.)", mistake="lstm.input_forget_swapped")),
        (run_lstm(inputs, H0, C0, params, carry_cell=False),
         TestFailure("  They match an LSTM whose memory cell is not carried: every step computes its new C from the "
                     "INITIAL cell. Assign the new cell to C inside the loop (C = F ⊙ C + I ⊙ C~), so that the next "
                     "step starts from it, and return it in the state.", mistake="lstm.cell_not_carried")),
        (run_lstm(inputs, H0, C0, params, forget_term=False),
         TestFailure("  They match an LSTM without the forget term, C = I ⊙ C~: the old cell never reaches the new one. "
                     "The memory cell keeps what the forget gate lets through: C = F ⊙ C_old + I ⊙ C~.",
                     mistake="lstm.forget_term_missing")),
        (run_lstm(inputs, H0, C0, params, output_gate=False),
         TestFailure("  They match an LSTM with H = tanh(C), without the output gate. The output gate decides how much "
                     "of the cell the hidden state shows: H = O ⊙ tanh(C).", mistake="lstm.output_gate_missing")),
        (run_lstm(inputs, H0, C0, params, cell_tanh=False),
         TestFailure("  They match an LSTM with H = O ⊙ C, without the tanh: the cell passes through tanh before the "
                     "output gate, H = O ⊙ tanh(C), which keeps H between -1 and 1.", mistake="lstm.cell_tanh_missing")),
        (run_lstm(inputs, H0, C0, params, candidate=torch.sigmoid),
         TestFailure("  They match an LSTM whose candidate cell uses a sigmoid: C~ = tanh(X W_xc + H W_hc + b_c), with "
                     "values between -1 and 1, so the cell can also decrease. Only the gates I, F and O are sigmoids.",
                     mistake="lstm.candidate_sigmoid")),
        (run_lstm(inputs, H0, C0, params, gate=torch.tanh),
         TestFailure("  They match an LSTM whose gates use tanh: I, F and O are sigmoids (values between 0 and 1); "
                     "only the candidate C~ and the cell's output use tanh.", mistake="lstm.gates_tanh")),
        (run_lstm(inputs, H0, C0, params, output_from_old=True),
         TestFailure("  Each step's output is computed from the state BEFORE this step's update. Update C and H first, "
                     "then Y = H W_hq + b_q with the new H.", mistake="lstm.output_before_update")),
        (run_lstm(inputs, H0, C0, params, update=False, output_from_old=True), never_updated()),
        (run_lstm(inputs, H0, C0, params, update=False), never_updated()),
        (run_lstm(inputs, torch.zeros_like(H0), C0, params),
         TestFailure("  They match an LSTM that starts from H = 0: the initial H passed in `state` is ignored. Unpack "
                     "it with `H, C = state` and start from both (the course passes the previous minibatch's state "
                     "back in).", mistake="lstm.initial_state_ignored")),
        (run_lstm(inputs, H0, torch.zeros_like(C0), params),
         TestFailure("  They match an LSTM that starts from C = 0: the initial memory cell passed in `state` is "
                     "ignored. Unpack it with `H, C = state` and start from both (the course passes the previous "
                     "minibatch's state back in).", mistake="lstm.initial_cell_ignored")),
        (run_lstm(inputs, torch.zeros_like(H0), torch.zeros_like(C0), params),
         TestFailure("  They match an LSTM that starts from zeros: the initial state passed in `state` is ignored. "
                     "Unpack it with `H, C = state` and start from it (the course passes the previous minibatch's "
                     "state back in).", mistake="lstm.initial_state_ignored")),
    ]
    zero = run_lstm(inputs, H0, C0, params)
    found.append(((torch.zeros_like(zero[0]), H0, C0),
                  TestFailure("  Your outputs are all zero: each step's output is Y = H W_hq + b_q, computed from the "
                              "updated H.", mistake="lstm.outputs_zero")))
    # A gate that reads another gate's weights: one tensor used in place of another, two swapped, or whole
    # (W_x*, W_h*, b_*) triples in the wrong order (the params list unpacked in a different order).
    for i, j in itertools.permutations(range(12), 2):
        if i % 3 != j % 3:
            continue
        replaced = list(params)
        replaced[i] = params[j]
        own = ", ".join(NAMES[i - i % 3:i - i % 3 + 3])
        found.append((run_lstm(inputs, H0, C0, replaced),
                      TestFailure("  They match an LSTM that uses {used} where {name} belongs: {gate} must be computed "
                                  "with its own weights ({own}).", mistake="lstm.gate_weights_mixed", used=NAMES[j],
                                  name=NAMES[i], gate=GATES[i // 3], own=own)))
    for i, j in itertools.combinations(range(12), 2):
        if i % 3 != j % 3:
            continue
        swapped = list(params)
        swapped[i], swapped[j] = params[j], params[i]
        found.append((run_lstm(inputs, H0, C0, swapped),
                      TestFailure("  They match an LSTM with {first} and {second} swapped: {a} and {b} use each "
                                  "other's weights.", mistake="lstm.gate_weights_swapped", first=NAMES[i],
                                  second=NAMES[j], a=GATES[i // 3], b=GATES[j // 3])))
    for order in itertools.permutations(range(4)):
        if order == (0, 1, 2, 3):
            continue
        permuted = [params[3 * k + m] for k in order for m in range(3)] + list(params[12:])
        found.append((run_lstm(inputs, H0, C0, permuted),
                      TestFailure("  They match an LSTM that unpacks params in a different order: get_lstm_params "
                                  "returns, and lstm must unpack, {order}.", mistake="lstm.params_order",
                                  order=ORDER)))
    return [(o, h, c, why) for (o, h, c), why in found]


def close(a, b):
    return a.shape == b.shape and a.device == b.device and bool(
        torch.allclose(a.detach().to(torch.float64), b.detach().to(torch.float64), atol=ATOL, rtol=RTOL))


# -- calling the learner's functions -------------------------------------------------------------------------

def show(value):
    return str(value) if isinstance(value, torch.device) else describe(value)


def learner_fn(ctx, name):
    """ctx.fn(name), but a call is described with its device spelled out: get_lstm_params(..., device: cpu)."""
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
    """Check lstm's (outputs, (H, C)) and return (outputs, H, C). Unless strict_state, the state may also be a bare
    H, a 1-tuple (H,) (then C is None) or a list (the test of the returned state reports those); with stacked_ok,
    outputs of shape (steps, batch, vocab_size) are flattened (for tests about something else: the value tests
    report them)."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        if result is None:
            raise TestFailure("{what} returned None; expected the pair (outputs, (H, C)): the outputs of every step, "
                              "concatenated, and the final state. Did you forget a `return` statement?", what=what)
        raise TestFailure("{what} returned {got}; expected the pair (outputs, (H, C)): the outputs of every step, "
                          "concatenated, and the final state.", what=what, got=describe(result))
    outputs, state = result
    if isinstance(outputs, (list, tuple)):
        raise TestFailure("{what} returned the outputs as a Python {type} of {n} items; join them into one tensor with "
                          "torch.cat(outputs, dim=0), of shape (steps · batch, vocab_size) = ({rows}, {vocab_size}).",
                          mistake="lstm.outputs_not_concatenated", what=what, type=type(outputs).__name__,
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
                "b and the outputs line up with the flattened labels in the loss.", mistake="lstm.outputs_stacked"))
        elif tuple(outputs.shape) == (batch, vocab_size):
            failure.with_part(TestFailure(
                "  The shape is (batch, vocab_size): only one step's output. Collect the output of every step and "
                "torch.cat them.", mistake="lstm.only_one_output"))
        elif tuple(outputs.shape) == (steps * batch, num_hiddens):
            failure.with_part(TestFailure(
                "  The shape is (steps · batch, num_hiddens): these are hidden states. Each step's output is "
                "Y = H W_hq + b_q.", mistake="lstm.outputs_are_states"))
        else:
            failure.with_part(TestFailure("  Append Y = H W_hq + b_q at each step and torch.cat(outputs, dim=0)."))
        raise failure
    C = None
    if isinstance(state, torch.Tensor) and not strict_state:
        H = state
    elif isinstance(state, (list, tuple)) and len(state) in (1, 2) and not strict_state:
        H = state[0]
        C = state[1] if len(state) == 2 else None
    else:
        H, C = unpack_state(state, what)
    check_type(H, what + " (the final state H)")
    if C is not None:
        check_type(C, what + " (the final memory cell C)")
    for name, t in (("H", H), ("C", C)):
        if t is not None and tuple(t.shape) != (batch, num_hiddens):
            raise TestFailure("{what} returned a final {name} of shape {shape}; expected (batch, num_hiddens) = "
                              "({batch}, {num_hiddens}).", what=what, name=name, shape=str(tuple(t.shape)),
                              batch=batch, num_hiddens=num_hiddens)
    return outputs, H, C


def unpack_state(state, what, init=False):
    """(H, C) from a state that must be the pair (H, C); `init` when it comes from init_lstm_state (the mistake ids
    differ)."""
    if isinstance(state, torch.Tensor):
        raise TestFailure("{what} returned the state as a bare tensor {got}; an LSTM's state is the pair (H, C): the "
                          "hidden state AND the memory cell. Return the tuple (H, C); without C the next call cannot "
                          "continue the sequence.", mistake="lstm.init_state_h_only" if init else "lstm.state_h_only",
                          what=what, got=describe(state))
    if isinstance(state, list):
        raise TestFailure("{what} returned the state as a list {got}; return a tuple: (H, C).",
                          mistake="lstm.init_state_list" if init else "lstm.state_list", what=what, got=describe(state))
    if not isinstance(state, tuple):
        raise TestFailure("{what} returned the state as {got}; expected the pair (H, C).", what=what,
                          got=describe(state))
    if len(state) == 1:
        raise TestFailure("{what} returned the state {got} with H only; an LSTM's state is the pair (H, C): the hidden "
                          "state AND the memory cell. Return (H, C); without C the next call cannot continue the "
                          "sequence.", mistake="lstm.init_state_h_only" if init else "lstm.state_h_only", what=what,
                          got=describe(state))
    if len(state) != 2:
        raise TestFailure("{what} returned a state tuple with {n} items, {got}; an LSTM's state is the pair (H, C).",
                          what=what, n=len(state), got=describe(state))
    return state[0], state[1]


def diagnose(outputs, inputs, H0, C0, params):
    """The explanation (a TestFailure part) of the first typical mistake the learner's outputs match, or None."""
    expected, expected_H, expected_C = run_lstm(inputs, H0, C0, params)
    for v_out, v_H, v_C, why in variants(inputs, H0, C0, params):
        if close(v_out, expected) and close(v_H, expected_H) and close(v_C, expected_C):
            continue  # this mistake makes no difference on these inputs
        if close(outputs, v_out):
            return why
    return None


def check_lstm(ctx, steps, batch, seed):
    """Call the learner's lstm on shared parameters and a nonzero initial state; compare with the reference."""
    fn = learner_fn(ctx, "lstm")
    params = shared_params(ctx.device, seed)
    inputs = one_hot_inputs(steps, batch, ctx.device, seed + 1)
    H0, C0 = start_state(batch, ctx.device, seed + 2)
    what = fn.describe(inputs, (H0, C0), params)
    result = fn(inputs.clone(), (H0.clone(), C0.clone()), clones(params))
    outputs, H, C = unpack_result(result, what, steps, batch, VOCAB, HIDDEN)
    expected, (expected_H, expected_C) = ctx.ref("lstm")(inputs, (H0, C0), params)
    if outputs.device == expected.device and not close(outputs, expected):
        why = diagnose(outputs, inputs, H0, C0, params)
        if why is not None:
            raise TestFailure("{what} returned the wrong outputs (shared parameters, the same for your lstm and the "
                              "reference; a nonzero initial state).\n  expected: {expected}\n  got:      {got}",
                              what=what, expected=fmt_tensor(expected), got=fmt_tensor(outputs)).with_part(why)
    check_tensor(outputs, expected, what + "[0] (the outputs)", atol=ATOL, rtol=RTOL)
    if C is not None and H.device == expected_H.device and C.device == expected_C.device and close(
            H, expected_C) and close(C, expected_H):
        raise TestFailure("{what}: the outputs are right, but the state is returned as (C, H); the course's order is "
                          "(H, C), the order init_lstm_state uses.", mistake="lstm.state_swapped", what=what)
    if H.device == expected_H.device and not close(H, expected_H):
        failure = TestFailure("{what}: the outputs are right, but the final H is not.\n  expected: {expected}\n"
                              "  got:      {got}", what=what, expected=fmt_tensor(expected_H), got=fmt_tensor(H))
        if close(H, H0):
            failure.with_part(TestFailure("  That is the initial H: return the state after the last step.",
                                          mistake="lstm.returns_initial_state"))
        raise failure
    check_tensor(H, expected_H, what + " (the final state H)", atol=ATOL, rtol=RTOL)
    if C is None:
        return  # a state without C is the state test's business
    if C.device == expected_C.device and not close(C, expected_C):
        failure = TestFailure("{what}: the outputs and H are right, but the final memory cell C is not.\n  expected: "
                              "{expected}\n  got:      {got}", what=what, expected=fmt_tensor(expected_C),
                              got=fmt_tensor(C))
        if close(C, C0):
            failure.with_part(TestFailure(
                "  That is the initial cell: the memory cell is not carried. Assign the new cell to C inside the loop "
                "(C = F ⊙ C + I ⊙ C~) and return it in the state.", mistake="lstm.cell_not_carried"))
        raise failure
    check_tensor(C, expected_C, what + " (the final memory cell C)", atol=ATOL, rtol=RTOL)


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


# -- get_lstm_params and init_lstm_state ---------------------------------------------------------------------------

@grader.test("get_lstm_params: fourteen leaf tensors with the right shapes, small random weights, zero biases",
             points=2)
def params_shapes(ctx):
    """get_lstm_params(7, 6, device): the course's order, float32 leaves that require grad (the devices are the
    device test's business)."""
    fn = learner_fn(ctx, "get_lstm_params")
    vocab_size, num_hiddens = 7, 6
    what = fn.describe(vocab_size, num_hiddens, ctx.device)
    params = fn(vocab_size, num_hiddens, ctx.device)
    if not isinstance(params, (list, tuple)):
        raise TestFailure("{what} returned {got}; expected a list of 14 tensors {order}.", what=what,
                          got=describe(params), order=ORDER)
    if len(params) != 14:
        raise TestFailure("{what} returned {n} items; expected 14: {order} (four triples for the gates I, F, O and the "
                          "candidate cell C~, then the output layer).", what=what, n=len(params), order=ORDER)
    for name, p, shape in zip(NAMES, params, param_shapes(vocab_size, num_hiddens)):
        check_type(p, f"{what}: {name}")
        if tuple(p.shape) != shape:
            if tuple(p.shape) == shape[::-1] and len(shape) == 2:
                raise TestFailure("{what}: {name} has shape {shape}; expected {expected} with vocab_size = "
                                  "{vocab_size} and num_hiddens = {num_hiddens}. The order is {order}. It is "
                                  "transposed: X of shape (batch, vocab_size) multiplies from the left, X @ W_x*, so "
                                  "input weights are (vocab_size, num_hiddens) and W_hq is (num_hiddens, vocab_size).",
                                  mistake="lstm.weight_transposed", what=what, name=name, shape=str(tuple(p.shape)),
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
                              "p.requires_grad_(True) on every parameter.", mistake="lstm.params_no_grad", what=what,
                              name=name)
        if not p.is_leaf:
            raise TestFailure("{what}: {name} is not a leaf tensor: it was computed from another tensor that requires "
                              "grad (e.g. torch.randn(..., requires_grad=True) * 0.01), so its .grad stays None and an "
                              "optimizer cannot update it. Scale first, then call .requires_grad_(True).",
                              mistake="lstm.params_not_leaf", what=what, name=name)
    if len({id(p) for p in params}) != len(params):
        raise TestFailure("{what} returned the same tensor object more than once; every parameter needs its own "
                          "tensor.", mistake="lstm.params_shared", what=what)
    with torch.no_grad():
        for name, p in zip(NAMES, params):
            if name.startswith("b"):
                if bool((p != 0).any()):
                    raise TestFailure("{what}: the bias {name} is {value}; biases start at zero "
                                      "(torch.zeros(..., device=device)).", mistake="lstm.bias_not_zero", what=what,
                                      name=name, value=fmt_tensor(p))
                continue
            std = float(p.double().std())
            if not bool((p != p.reshape(-1)[0]).any()):
                raise TestFailure("{what}: every entry of the weight {name} is {value:g}. Weights start as small random "
                                  "numbers, e.g. torch.randn(shape, device=device) * 0.01, so that the hidden units "
                                  "differ from one another.", mistake="lstm.weights_constant", what=what, name=name,
                                  value=float(p.reshape(-1)[0]))
            if std > 0.2:
                raise TestFailure("{what}: the weight {name} has standard deviation {std:.3g}; start with small random "
                                  "numbers, e.g. torch.randn(shape, device=device) * 0.01, so the gates and the tanh "
                                  "start away from saturation.", mistake="lstm.weights_too_large", what=what, name=name,
                                  std=std)


@grader.test("init_lstm_state returns the pair (H, C) of zeros of shape (batch_size, num_hiddens)", points=1)
def initial_state(ctx):
    fn = learner_fn(ctx, "init_lstm_state")
    device = torch.empty(0, device=ctx.device).device
    for batch_size, num_hiddens in ((3, 5), (1, 4)):
        what = fn.describe(batch_size, num_hiddens, ctx.device)
        state = fn(batch_size, num_hiddens, ctx.device)
        H, C = unpack_state(state, what, init=True)
        for index, t in ((0, H), (1, C)):
            check_type(t, f"{what}[{index}]")
            if t.device != device:  # where the state lives is the device test's business
                t = t.to(device)
            check_tensor(t, torch.zeros((batch_size, num_hiddens), device=device), f"{what}[{index}]")


# -- lstm ----------------------------------------------------------------------------------------------------------

@grader.test("lstm: the outputs and the final state follow the LSTM equations (shared parameters, T = 5, B = 3)",
             points=2, hidden=True)
def outputs_and_state(ctx):
    """Random parameters, the same for the learner and the reference; one-hot inputs; a nonzero initial (H, C)."""
    check_lstm(ctx, steps=5, batch=3, seed=10)
    check_lstm(ctx, steps=3, batch=2, seed=20)


@grader.test("lstm returns its state as the pair (H, C), and passing it back in continues the sequence", points=1)
def state_continues(ctx):
    """lstm on steps 0-2, then lstm on steps 3-5 with the returned state, equals your own lstm on steps 0-5 (so this
    test does not depend on the equations being right)."""
    fn = learner_fn(ctx, "lstm")
    params = shared_params(ctx.device, 30)
    inputs = one_hot_inputs(6, 2, ctx.device, 31)
    H0, C0 = start_state(2, ctx.device, 32)
    what = fn.describe(inputs[:3], (H0, C0), params)
    result = fn(inputs[:3].clone(), (H0.clone(), C0.clone()), clones(params))
    first, _, _ = unpack_result(result, what, 3, 2, VOCAB, HIDDEN, strict_state=True, stacked_ok=True)
    state = result[1]
    what2 = fn.describe(inputs[3:], state, params)
    second, _, _ = unpack_result(fn(inputs[3:].clone(), state, clones(params)), what2, 3, 2, VOCAB, HIDDEN,
                                 strict_state=True, stacked_ok=True)
    what_all = fn.describe(inputs, (H0, C0), params)
    whole, _, _ = unpack_result(fn(inputs.clone(), (H0.clone(), C0.clone()), clones(params)), what_all, 6, 2, VOCAB,
                                HIDDEN, stacked_ok=True)
    if whole.device == second.device and not close(torch.cat([first, second]), whole):
        raise TestFailure("{what} and two calls on its halves, the second starting from the state the first returned, "
                          "disagree on steps 3-5:\n  one call:  {whole}\n  two calls: {second}\n  lstm must start "
                          "from the H and C it is given (`H, C = state`) and return the state after its last step, so "
                          "that the course can feed one minibatch's final state into the next.", what=what_all,
                          whole=fmt_tensor(whole[6:]), second=fmt_tensor(second))


def learner_loss(fn, inputs, state, params, G, G_H, G_C, what, use_state=True):
    """(outputs, H, C, loss) with loss = (outputs · G).sum() + (H · G_H).sum() + (C · G_C).sum() (the state terms only
    if use_state, the C term only when lstm returned C)."""
    outputs, H, C = unpack_result(fn(inputs.clone(), tuple(s.clone() for s in state), params), what, inputs.shape[0],
                                  inputs.shape[1], VOCAB, HIDDEN, stacked_ok=True)
    loss = (outputs * G).sum()
    if use_state:
        loss = loss + (H * G_H).sum() + ((C * G_C).sum() if C is not None else 0.0)
    return outputs, H, C, loss


@grader.test("gradients reach every parameter and flow back through time", points=1, hidden=True)
def gradients(ctx):
    """loss = (outputs · G).sum() + (H · G').sum() + (C · G'').sum(). When your lstm's values match the reference,
    every parameter's gradient must match the reference's; when they do not (the tests above say why), the gradients
    must at least match finite differences of your own lstm."""
    fn = learner_fn(ctx, "lstm")
    params = shared_params(ctx.device, 40)
    inputs = one_hot_inputs(4, 2, ctx.device, 41)
    H0, C0 = start_state(2, ctx.device, 42)
    gen = torch.Generator().manual_seed(43)
    G = torch.randn((8, VOCAB), generator=gen).to(ctx.device)
    G_H = torch.randn((2, HIDDEN), generator=gen).to(ctx.device)
    G_C = torch.randn((2, HIDDEN), generator=gen).to(ctx.device)
    mine = clones(params, requires_grad=True)
    what = fn.describe(inputs, (H0, C0), mine)
    outputs, H, C, _ = learner_loss(fn, inputs, (H0, C0), mine, G, G_H, G_C, what, use_state=False)
    if not outputs.requires_grad:
        raise TestFailure("{what} returned outputs that autograd cannot differentiate (requires_grad=False), so no "
                          "parameter could be trained. Keep every step a tensor operation on the parameters: "
                          ".detach(), .item(), torch.no_grad() or torch.tensor(...) cut the graph.",
                          mistake="lstm.outputs_not_differentiable", what=what)
    use_state = H.requires_grad and (C is None or C.requires_grad)
    if not use_state and not (close(H, H0) or (C is not None and close(C, C0))):
        # returning the initial state is reported by the value tests
        raise TestFailure("{what} returned a final state that autograd cannot differentiate: the state carried to the "
                          "next minibatch must stay connected to the parameters (do not .detach() it inside lstm; the "
                          "training loop decides when to detach).", mistake="lstm.final_state_detached", what=what)
    loss = (outputs * G).sum()
    if use_state:
        loss = loss + (H * G_H).sum() + ((C * G_C).sum() if C is not None else 0.0)
    grads = list(torch.autograd.grad(loss, mine, allow_unused=True))
    expected, expected_H, expected_C = run_lstm(inputs, H0, C0, params)
    right = close(outputs, expected) and close(H, expected_H) and (C is None or close(C, expected_C))
    for i, (name, g) in enumerate(zip(NAMES, grads)):
        if g is None:
            if right:
                raise TestFailure("no gradient reaches {name}: your lstm's outputs and final state do not depend on it "
                                  "through differentiable operations. Check that every parameter is used, in the "
                                  "order {order}, and that H and C are not detached (.detach(), .data) inside lstm.",
                                  name=name, order=ORDER)
            grads[i] = torch.zeros_like(mine[i])  # a parameter the wrong equations leave out: the value tests say so
    if right:
        detached = clones(params, requires_grad=True)
        d_out, d_H, d_C = run_lstm(inputs, H0, C0, detached, detach_state=True)
        d_loss = (d_out * G).sum()
        if use_state:
            d_loss = d_loss + (d_H * G_H).sum() + ((d_C * G_C).sum() if C is not None else 0.0)
        detached_grads = torch.autograd.grad(d_loss, detached)
        if all(close(g, d) for g, d in zip(grads, detached_grads)):
            raise TestFailure("the gradients of {what} stop at every time step: H and C are detached between steps, so "
                              "no gradient flows back through time and the LSTM cannot learn what earlier steps should "
                              "remember. Do not call .detach() (or .data) on H or C inside lstm.",
                              mistake="lstm.state_detached", what=what)
        ref_params = clones(params, requires_grad=True)
        r_out, (r_H, r_C) = ctx.ref("lstm")(inputs, (H0, C0), ref_params)
        r_loss = (r_out * G).sum()
        if use_state:
            r_loss = r_loss + (r_H * G_H).sum() + ((r_C * G_C).sum() if C is not None else 0.0)
        ref_grads = torch.autograd.grad(r_loss, ref_params)
        for name, g, r in zip(NAMES, grads, ref_grads):
            try:
                check_tensor(g, r, f"the gradient with respect to {name} of (outputs · G).sum() + (H · G').sum() + "
                                   f"(C · G'').sum(), where (outputs, (H, C)) = {what}", atol=1e-4, rtol=1e-4)
            except TestFailure as failure:
                raise failure.with_part(TestFailure(
                    "  Your outputs and final state are right, so part of the computation is hidden from autograd: "
                    "no .detach(), .data, .item() or torch.no_grad() inside lstm.",
                    mistake="lstm.hidden_from_autograd")) from None
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
                values.append(float(learner_loss(fn, inputs, (H0, C0), shifted, G, G_H, G_C, what, use_state)[3]))
        numeric = (values[0] - values[1]) / (2 * eps)
        analytic = float((g * v).sum())
        if abs(numeric - analytic) > 1e-2 + 2e-2 * abs(numeric):
            raise TestFailure("the gradient that autograd computes for {name} through {what} does not match how the "
                              "loss really changes with {name} (a directional derivative of {analytic:.4g} from "
                              "autograd, {numeric:.4g} from finite differences). Part of the computation is hidden "
                              "from autograd: no .detach(), .data, .item() or torch.no_grad() inside lstm.",
                              mistake="lstm.hidden_from_autograd", name=name, what=what, analytic=analytic,
                              numeric=numeric)


@grader.test("lstm with one time step (T = 1) and with a batch of one (B = 1)", points=1, hidden=True)
def edge_sizes(ctx):
    for steps, batch, seed in ((1, 3, 50), (4, 1, 60), (1, 1, 70)):
        check_lstm(ctx, steps=steps, batch=batch, seed=seed)


@grader.test("everything lives on the device it was given", points=1, hidden=True)
def devices(ctx):
    """Results on ctx.device; on a CPU-only machine, code that creates tensors without device= is also run on
    PyTorch's meta device. Only where tensors live counts here: shapes and values are the other tests' business."""
    device = torch.empty(0, device=ctx.device).device
    params = learner_fn(ctx, "get_lstm_params")(VOCAB, HIDDEN, ctx.device)
    for name, p in zip(NAMES, params if isinstance(params, (list, tuple)) else []):
        if isinstance(p, torch.Tensor) and p.device != device:
            raise TestFailure("get_lstm_params(vocab_size: {vocab_size}, num_hiddens: {num_hiddens}, device: {device}) "
                              "put {name} on {got}. Create every tensor with device=device.", vocab_size=VOCAB,
                              num_hiddens=HIDDEN, device=str(ctx.device), name=name, got=str(p.device))
    state = learner_fn(ctx, "init_lstm_state")(2, HIDDEN, ctx.device)
    for name, t in zip(("H", "C"), flatten(state)):
        if t.device != device:
            raise TestFailure("init_lstm_state(batch_size: 2, num_hiddens: {num_hiddens}, device: {device}) returned "
                              "{name} on {got}. Create it with torch.zeros(..., device=device).", num_hiddens=HIDDEN,
                              device=str(ctx.device), name=name, got=str(t.device))
    fn = learner_fn(ctx, "lstm")
    inputs, (H0, C0) = one_hot_inputs(2, 2, ctx.device, 80), start_state(2, ctx.device, 81)
    params = shared_params(ctx.device, 82)
    what = fn.describe(inputs, (H0, C0), params)
    result = fn(inputs, (H0, C0), params)
    pair = isinstance(result, (tuple, list)) and len(result) == 2
    for t in flatten(result[0] if pair else result):
        if t.device != device:
            raise TestFailure("{what} returned its outputs on {got}, but its inputs are on {device}. Create new "
                              "tensors on the inputs' device and avoid .cpu() or .numpy().", what=what,
                              got=str(t.device), device=str(device))
    for t in flatten(result[1] if pair else []):
        if t.device != device:
            raise TestFailure("{what} returned its final state on {got}, but its inputs are on {device}. Create new "
                              "tensors on the inputs' device and avoid .cpu() or .numpy().", what=what,
                              got=str(t.device), device=str(device))
    if not ctx.should_probe_devices():
        return
    meta = torch.device("meta")
    probe_on_meta(ctx, "get_lstm_params", (VOCAB, HIDDEN, meta), NAMES)
    probe_on_meta(ctx, "init_lstm_state", (2, HIDDEN, meta), ["H", "C"])
    inputs = torch.zeros((3, 2, VOCAB), device=meta)
    params = [torch.zeros(shape, device=meta) for shape in param_shapes(VOCAB, HIDDEN)]
    zeros = torch.zeros((2, HIDDEN), device=meta)
    probe_on_meta(ctx, "lstm", (inputs, (zeros, zeros), params), ["outputs", "H", "C"])


# -- smoke-check ---------------------------------------------------------------------------------------------------

def texts():
    """(train, held-out) character indices of the toolkit's grammar text (tutor.grading.text), and the vocabulary
    size. The held-out sentences come from another seed; both share one character table."""
    train, held_out = grammar_text(TRAIN_SENTENCES, seed=1000), grammar_text(HELD_SENTENCES, seed=2000)
    corpus, chars = char_corpus(train + " " + held_out)
    return corpus[:len(train)], corpus[len(train) + 1:], len(chars)


TRAIN_SENTENCES, HELD_SENTENCES = 400, 60
NUM_HIDDENS, NUM_STEPS, BATCH, TRAIN_STEPS, LR, CLIP = 32, 16, 32, 60, 0.05, 1.0


def train_language_model(get_params, init_state, lstm, train, held_out, vocab_size, device, seed, check=None,
                         report=None, seed_all=torch.manual_seed):
    """The course's RNNModelScratch in a few lines, trained on random windows with Adam and gradient clipping;
    returns the perplexity on held-out text. check(step, params, result) returns the outputs from lstm's result
    (and may raise); report(step, loss) is called after every step; seed_all(seed) seeds wherever get_params
    draws its random numbers (the sandbox, for the learner's)."""
    seed_all(seed)
    params = get_params(vocab_size, NUM_HIDDENS, device)
    if check is not None:
        check(0, params, None)
    gen = torch.Generator().manual_seed(seed)

    def forward(X, step):  # X: (batch, steps) token ids
        state = init_state(X.shape[0], NUM_HIDDENS, device)
        result = lstm(F.one_hot(X.T, vocab_size).to(torch.float32), state, params)
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
            raise TestFailure("no gradient reached any parameter during training: the outputs of your lstm must be "
                              "computed from the parameters with differentiable tensor operations.")
        norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
        if norm > CLIP:  # gradient clipping by the global norm, as in the course
            for g in grads:
                g *= CLIP / norm
        optimizer.step()
        if report is not None:
            report(step, float(loss.detach()))
    return perplexity()


# Held-out perplexity after 60 steps, seeds 0-9 (22 characters; the unigram model gets 14.9): the reference
# 1.55-1.67; typical bugs: a sigmoid candidate cell 2.93-3.70, H never updated 4.59-4.71 (both miss 2.2). Bugs that
# keep the model a working RNN still learn this grammar (C not carried 1.56-1.69, H and C detached at every step
# 1.80-2.02): the value and gradient tests catch those.
@grader.smoke("a character-level language model with your LSTM learns a small grammar", points=3,
              metric="held-out perplexity", goal="max", threshold=2.2, budget=10, plot="perplexity", hidden=True)
def language_model(ctx):
    """60 Adam steps on random 16-character windows of grammar text (32 hidden units); the perplexity on held-out
    text must drop well below the unigram model's. ctx.step streams the training loss and its perplexity."""
    get_params, init_state, lstm = (learner_fn(ctx, name) for name in ("get_lstm_params", "init_lstm_state", "lstm"))
    train, held_out, vocab_size = texts()
    train, held_out = train.to(ctx.device), held_out.to(ctx.device)
    held_batch = held_out.numel() // (NUM_STEPS + 1)

    def what(batch, where):
        return (f"lstm(inputs: float32[{NUM_STEPS}, {batch}, {vocab_size}], state: tuple(float32[{batch}, "
                f"{NUM_HIDDENS}], float32[{batch}, {NUM_HIDDENS}]), params) {where}")

    def check(step, params, result):
        if step == 0:  # the parameters from get_lstm_params
            call = f"get_lstm_params(vocab_size: {vocab_size}, num_hiddens: {NUM_HIDDENS}, device: {ctx.device})"
            if not isinstance(params, (list, tuple)) or len(params) != 14 or not all(
                    isinstance(p, torch.Tensor) and p.is_floating_point() for p in params):
                raise TestFailure("{call} returned {got}; expected a list of 14 float tensors {order}.", call=call,
                                  got=describe(params), order=ORDER)
            if not any(p.requires_grad for p in params):
                raise TestFailure("{call} returned parameters that do not require grad, so nothing can be trained: "
                                  "call p.requires_grad_(True) on each.", mistake="lstm.params_no_grad", call=call)
            if not all(p.is_leaf for p in params):
                raise TestFailure("{call} returned parameters that are not leaf tensors (computed from another tensor "
                                  "that requires grad), so the optimizer cannot train them: scale first, then call "
                                  ".requires_grad_(True).", mistake="lstm.params_not_leaf", call=call)
            return None
        # Outputs stacked to (steps, batch, vocab_size) still train (the value tests report the layout).
        if step is None:  # evaluation on held-out text, under torch.no_grad()
            return unpack_result(result, what(held_batch, "on the held-out text"), NUM_STEPS, held_batch,
                                 vocab_size, NUM_HIDDENS, stacked_ok=True)[0]
        outputs = unpack_result(result, what(BATCH, "in the training loop"), NUM_STEPS, BATCH, vocab_size,
                                NUM_HIDDENS, stacked_ok=True)[0]
        if step == 1:
            if not outputs.requires_grad:
                raise TestFailure("{what} returned outputs that autograd cannot differentiate, so the model cannot "
                                  "learn. Compute the outputs from the parameters with tensor operations (no "
                                  ".detach(), .item(), torch.no_grad() or new tensors).",
                                  mistake="lstm.outputs_not_differentiable", what=what(BATCH, "in the training loop"))
            if not bool(torch.isfinite(outputs).all()):
                raise TestFailure("{what} returned NaN or inf outputs at the first training step.",
                                  what=what(BATCH, "in the training loop"))
        return outputs

    def report(step, loss):
        if not math.isfinite(loss):
            raise TestFailure("the training loss became {loss} at step {step}; check the LSTM equations.", loss=loss,
                              step=step)
        ctx.step(step, loss=loss, perplexity=math.exp(min(loss, 50.0)))

    own_state = []  # [True] once lstm turned out not to take init_lstm_state's state: the grader's (H, C) is used

    def lstm_call(inputs, state, params):
        """The learner's lstm on the learner's initial state. A state from init_lstm_state that this lstm cannot take
        (H alone, say) is replaced by zeros of the right shapes: the test of init_lstm_state reports it, and the
        model should still train."""
        zeros = (torch.zeros((inputs.shape[1], NUM_HIDDENS), device=ctx.device),
                 torch.zeros((inputs.shape[1], NUM_HIDDENS), device=ctx.device))
        if own_state:
            return lstm(inputs, zeros, params)
        try:
            return lstm(inputs, state, params)
        except LearnerError as err:
            if isinstance(state, tuple) and len(state) == 2:
                raise
            first = err
        try:
            result = lstm(inputs, zeros, params)
        except LearnerError:
            raise first from None
        own_state.append(True)
        return result

    value = train_language_model(get_params, init_state, lstm_call, train, held_out, vocab_size, ctx.device, 0,
                                 check, report, seed_all=ctx.seed)
    ref = ctx.ref
    reference = train_language_model(ref("get_lstm_params"), ref("init_lstm_state"), ref("lstm"), train, held_out,
                                     vocab_size, ctx.device, 0)
    return {"value": value, "reference": reference}
