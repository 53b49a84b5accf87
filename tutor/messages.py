"""Every verdict is data (a reason code and its parameters); this module turns it into text, in one place.

A failure is a dict:
    {"code": "shape_mismatch", "params": {"call": ..., "expected": ..., ...}, "msg": None, "parts": [...]}
`code` picks a template from the catalog of the chosen language. Graders may carry their own English template
in `msg` (gettext-style: the English text is the key a translation catalog maps from), with its parameters in
`params`. `parts` are further failures rendered on the lines after (a hint, the smallest failing input, ...).

Only the parent process renders (the CLI, the TUI, the Gradescope file): nothing parses a message back into
data. Other languages come from gettext catalogs (tutor.i18n): the code is the context and the English template
the message id; a grader's own template is its message id in the exercise's catalog. A message without a
translation is shown in English.
"""

from __future__ import annotations

import string

EN: dict[str, str] = {
    # -- the learner's file and its definitions
    "missing_function": "your file does not define the function `{name}{signature}`. Define it at the top level of "
                        "your file (check the spelling).",
    "missing_class": "your file does not define the class `{name}{signature}`. Define it at the top level of your "
                     "file (check the spelling).",
    "not_a_function": "`{name}` should be a function, but your file defines it as {got}.",
    "not_a_class": "`{name}` should be a class, but your file defines it as {got}.",
    "signature_mismatch": "`{name}` has the signature {name}{theirs}, but the course calls it as {name}{ours} "
                          "({error}). Change the parameters to match.",
    "syntax_error": "your file has a syntax error, so none of it could run: {file} line {line}: {type}: "
                    "{error}{shown}",
    "import_failed": "importing {file} raised {type}: {message} (only the Python standard library, torch and "
                     "numpy are available)",
    "load_failed": "importing {file} raised {type}: {message}",
    "load_exit": "importing {file} called sys.exit({exit_code}); a file of functions must not exit when imported.",
    "load_forbidden": "your file calls {apis} when it is imported; this exercise forbids it.",
    # -- exceptions raised by the learner's code
    "not_implemented": "{call} is not written yet: it still raises the stub's NotImplementedError. Replace that line "
                       "with your implementation.",
    "learner_exception": "{call} raised {type}: {message}",
    "learner_frame": "  at {file} line {line}, in {function}{source}",
    "learner_exit": "{call} called sys.exit({exit_code}); your function must return a result instead of exiting.",
    "learner_interrupted": "{call} was interrupted.",
    "learner_out_of_memory": "{call} ran out of memory ({type}: {message}). Allocate only what the result "
                             "needs.",
    "hint_device_mix": "  Your code mixed devices: the inputs are on {device}; create new tensors with "
                       "device=X.device (or torch.zeros_like) instead of the default CPU.",
    "hint_not_differentiable": "  The result is not connected to the inputs' autograd graph (.item(), .numpy(), "
                               "torch.tensor(...) or .detach() break it).",
    "hint_inplace_leaf": "  Your code changed an input that requires grad in place (X += ..., X[...] = ..., "
                         "X.mul_(...)): build a new tensor instead.",
    "forbidden_api": "{call} called {api}, which this exercise forbids: the point is to write it yourself with "
                     "basic tensor operations.",
    "forbidden_static": "your file refers to {api} (line {line}), which this exercise forbids: the point is to write "
                        "it yourself with basic tensor operations. Remove every use of it.",
    "forbidden_wrapped": "your file uses __wrapped__ (line {line}) to reach a function behind a wrapper; this "
                         "exercise forbids getting around its rules.",
    "grader_callback": "your code stopped while calling a function of the grader (see the message of this test).",
    # -- results that are not what the course expects
    "wrong_type": "{call} returned {got} ({got_type}); expected a torch.Tensor.",
    "type_hint_none": "  Did you forget a `return` statement?",
    "type_hint_numpy": "  Keep the computation in torch: converting to NumPy leaves the GPU and breaks gradients.",
    "type_hint_list": "  Build the result as a tensor (for example torch.stack or torch.zeros plus indexing) instead "
                      "of a Python list.",
    "type_hint_number": "  Return a tensor, not a Python number (.item() turns a tensor into a number and breaks "
                        "gradients).",
    "type_hint_subclass": "  Return a plain torch.Tensor: tensor subclasses can change how comparisons behave.",
    "shape_mismatch": "{call}\n  expected: {expected}\n  got:      {got}\n  the shapes differ: expected "
                      "{expected_shape}, got {got_shape}.",
    "dtype_mismatch": "{call}\n  expected: {expected}\n  got:      {got}\n  the dtypes differ: expected "
                      "{expected_dtype}, got {got_dtype}. Create new tensors with dtype=X.dtype (or use "
                      "torch.zeros_like) so the input's dtype is kept.",
    "wrong_device": "{call}\n  expected: {expected}\n  got:      {got}\n  the result is on {got_device} but the "
                    "inputs were on {expected_device}. Create new tensors with device=X.device and avoid "
                    ".cpu()/.numpy() inside your function.",
    "value_mismatch": "{call}\n  expected: {expected}\n  got:      {got}\n  the values differ: max abs difference "
                      "{max_diff} (tolerance atol={atol}, rtol={rtol}); {n_bad} of {numel} elements are off.\n"
                      "  expected:\n{expected_values}\n  got:\n{got_values}",
    "value_mismatch_nan": "{call}\n  expected: {expected}\n  got:      {got}\n  the values differ (your result has "
                          "NaN or inf where the expected one is finite): max abs difference {max_diff} (tolerance "
                          "atol={atol}, rtol={rtol}); {n_bad} of {numel} elements are off.\n  expected:\n"
                          "{expected_values}\n  got:\n{got_values}",
    "smallest_input": "\n  smallest failing input:\n{inputs}\n    expected = {expected}\n    got      = {got}",
    "smallest_input_exception": "\n  smallest failing input:\n{inputs}\n    expected = {expected}\n    got      = "
                                "an exception: {error}",
    "smallest_input_same": "\n  smallest failing input: the same as above.",
    "device_probe_mixed": "{call} mixed devices: {error}.",
    "device_probe_wrong": "{call} returned a tensor on {device}, not on the inputs' device.",
    "device_probe_meta_mixed": "  On tensors on PyTorch's 'meta' device (a stand-in for a GPU), {call} failed: "
                               "{error}.",
    "device_probe_meta_wrong": "  On tensors on PyTorch's 'meta' device (a stand-in for a GPU), {call} returned a "
                               "tensor on {device}.",
    "device_advice": "  Create new tensors with device=X.device (or torch.zeros_like / torch.ones_like / "
                     "torch.rand_like) so your code also works when the inputs live on a GPU; we check this with "
                     "tensors on PyTorch's 'meta' device, a stand-in for a GPU.",
    # -- smoke-checks
    "smoke_result": "{metric} = {value} (needs {need} {threshold}) after {steps} steps",
    "smoke_result_ref": "{metric} = {value} (needs {need} {threshold}) after {steps} steps; the reference solution "
                        "gets {reference} with the same seed",
    "smoke_below_threshold": "the training ran, but it did not get there: {metric} = {value} (needs {need} "
                             "{threshold}) after {steps} steps. The reference solution passes with the same data, "
                             "seed and settings, so the difference comes from your code; the failing tests above "
                             "usually show why.",
    "smoke_below_threshold_ref": "the training ran, but it did not get there: {metric} = {value} (needs {need} "
                                 "{threshold}) after {steps} steps; the reference solution gets {reference} with the "
                                 "same seed. The reference solution passes with the same data, seed and settings, so "
                                 "the difference comes from your code; the failing tests above usually show why.",
    "smoke_budget": "training did not finish within its {budget} s budget (stopped at step {step}). Your code is "
                    "correct enough to run but too slow: avoid Python loops over elements where a tensor operation "
                    "does the same, and keep tensors on the device.",
    "smoke_metric_invalid": "the smoke-check's metric is not a number ({value}).",
    # -- how a run ended
    "class_no_file": "no file {file} in this submission: 0 points.",
    "timeout": "stopped: grading {exercise} took longer than its {limit} s limit while this test was running. Look "
               "for a loop that never ends (a `while` whose condition never changes) or code that is far too slow.",
    "memory": "stopped: your code used more than {limit} MB of memory while this test was running. Allocate only "
              "what the result needs (check the sizes you pass to torch.zeros/ones/empty).",
    "cancelled": "cancelled before this test finished.",
    "crashed_signal": "the process running your code was killed by {signal} while this test was running. Something "
                      "in your code crashed Python itself (ctypes, a C extension, or os.kill).",
    "crashed_exit": "the process running your code ended (exit code {exit_code}) before this test reported a result. "
                    "Did your code call os._exit(), sys.exit() or exit()? A test that does not finish never passes.",
    "not_run": "not run: grading stopped at an earlier test ({status}).",
    "invalid_report": "the grading process sent an invalid report ({detail}); nothing it said after that was "
                      "trusted, and this test does not pass.",
    "sandbox_broken": "the process running your code sent the grader something that is not an answer ({detail}); "
                      "nothing it said after that was trusted, and this test does not pass. Does your code write to "
                      "file descriptors it did not open?",
    "internal_error": "the grader itself failed while checking this test, which is a bug in d2l-tutor rather than in "
                      "your code: {type}: {message}",
    "internal_run": "a hidden test itself failed (a bug in d2l-tutor, not in your code): {detail}",
    "engine_start_failed": "the grader could not start (exit code {exit_code}); this is a problem with d2l-tutor or "
                           "its installation, not with your code.",
    "stopped_before_tests": "grading was stopped ({status}) before the hidden tests started; nothing was graded.",
    "cancelled_before_tests": "grading was cancelled before the hidden tests started; nothing was graded.",
    # -- a student build (tutor.export): the visible tests only
    "withheld_tests": "visible tests: {score}/{max} points; {tests} more tests ({points} points) run when your "
                      "instructor grades.",
    "device_unavailable": "--device {device} was asked for, but this machine has no CUDA GPU that torch can use "
                          "(torch {torch}). Use --device cpu or --device auto.",
}

SIGNAL_MEANINGS = {"SIGSEGV": "segmentation fault", "SIGABRT": "aborted", "SIGKILL": "killed", "SIGBUS": "bus error",
                   "SIGFPE": "arithmetic error", "SIGILL": "illegal instruction"}


class _Params(dict):
    def __missing__(self, key):
        return "{" + key + "}"


_formatter = string.Formatter()


def _format(template: str, params: dict) -> str:
    try:
        return _formatter.vformat(template, (), _Params(params))
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        return template


def render(failure, lang: str | None = None) -> str:
    """The text of a failure (or "" for None) in `lang` (default: the current language), English where a
    translation is missing."""
    if not failure:
        return ""
    if isinstance(failure, str):
        return failure
    from tutor.i18n import get_lang, translate

    lang = lang or get_lang()
    code = str(failure.get("code", ""))
    params = failure.get("params") or {}
    msg = failure.get("msg")
    if code in EN and not isinstance(msg, str):
        template = translate(EN[code], context=code, lang=lang)
    elif isinstance(msg, str):
        template = translate(msg, lang=lang, grader=True)  # gettext-style: the English template is the key
    else:
        template = code
    if lang != "en" and isinstance(params.get("test"), str):  # the name of another hidden test, in the same words
        params = {**params, "test": translate(params["test"], lang=lang, grader=True)}
    text = _format(template, params) if params else template
    for part in failure.get("parts") or ():
        piece = render(part, lang)
        if piece:
            text += ("" if piece.startswith("\n") else "\n") + piece
    return text


def first_line(failure, lang: str = "en") -> str:
    text = render(failure, lang)
    return text.splitlines()[0] if text else ""


def failure(code: str, **params) -> dict:
    return {"code": code, "params": params}


def signal_text(name: str) -> str:
    meaning = SIGNAL_MEANINGS.get(name)
    return f"{name} ({meaning})" if meaning else name


def walk(failure):
    """The failure and all its parts, depth first."""
    if not failure:
        return
    yield failure
    for part in failure.get("parts") or ():
        yield from walk(part)
