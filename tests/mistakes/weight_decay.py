"""Single-mistake variants of weight_decay (d2l 4.4)."""

from tests.mistakes import book_version, variant

EX = "weight_decay"
VALUE = "l2_penalty([3, -4, 12]) = (9 + 16 + 144) / 2 = 84.5"
SHAPE = "a weight matrix gives a 0-dim tensor: the penalty of all its entries, in w's dtype"
GRADIENT = "autograd differentiates l2_penalty: its gradient matches its slope"
IN_PLACE = "sgd updates the caller's tensors in place: param - lr * grad"
DIVIDES = "the step is divided by batch_size"
ZEROES = "sgd zeroes every gradient after the step"
NO_GRAPH = "the update is done under torch.no_grad(): the parameters stay leaves that require grad"
BOOK = "the book's experiment: with λ = 3 the test loss is at most 1/20 of λ = 0's"
PENALTY = "torch.sum(w.pow(2)) / 2"

VARIANTS = [
    # No 1/2: the penalty is twice too large, which only acts as λ = 6; the experiment still works (ratio 0.0004).
    variant(EX, "penalty without the 1/2", PENALTY, "torch.sum(w.pow(2))",
            loses={VALUE}, mistake="weight_decay.missing_half"),
    # An L1 penalty: it also shrinks w, so the experiment still works (ratio 0.0008); only the value says so.
    variant(EX, "L1 penalty (sum of |w|)", PENALTY, "torch.sum(torch.abs(w))",
            loses={VALUE}, mistake="weight_decay.l1_penalty"),
    # The mean of the squares: 200 times too weak for the book's 200 weights, so the test loss hardly falls (0.965).
    variant(EX, "mean instead of sum", PENALTY, "torch.mean(w.pow(2)) / 2",
            loses={VALUE, BOOK}, mistake="weight_decay.mean_not_sum"),
    # The norm, not its square.
    variant(EX, "norm instead of squared norm", PENALTY, "torch.norm(w) / 2",
            loses={VALUE, BOOK}, mistake="weight_decay.norm_not_squared"),
    # The penalty's value as a new tensor: the right number, but no gradient reaches w, so nothing decays.
    variant(EX, "penalty cut from the graph", f"return {PENALTY}", f"return ({PENALTY}).detach()",
            loses={GRADIENT, BOOK}, mistake="weight_decay.penalty_not_differentiable"),
    # No division by batch_size: lr is effectively 5 times larger in the experiment, which still works (0.0002).
    variant(EX, "step not divided by batch_size", "lr * param.grad / batch_size", "lr * param.grad",
            loses={DIVIDES}, mistake="weight_decay.no_batch_size_division"),
    # Gradients never zeroed: they accumulate, and the experiment no longer generalizes (0.27 to 1.7).
    variant(EX, "gradients not zeroed", "            param.grad.zero_()\n", "",
            loses={ZEROES, BOOK}, mistake="weight_decay.grad_not_zeroed"),
    # The update outside torch.no_grad(): autograd refuses the in-place change of a leaf that requires grad. Only the
    # no_grad test runs sgd with autograd recording, so only it sees the error.
    variant(EX, "update outside torch.no_grad()",
            "    with torch.no_grad():\n        for param in params:\n            param -= lr * param.grad / batch_size\n"
            "            param.grad.zero_()\n",
            "    for param in params:\n        param -= lr * param.grad / batch_size\n        param.grad.zero_()\n",
            loses={NO_GRAPH}, mistake="weight_decay.update_outside_no_grad"),
    # Rebinding the loop variable: the caller's tensors never change, and the new tensor has no .grad, so zero_()
    # fails on every call of sgd: every test that calls it is lost, each naming the mistake.
    variant(EX, "param = param - ... (rebinding, not in place)", "param -= lr * param.grad / batch_size",
            "param = param - lr * param.grad / batch_size",
            loses={IN_PLACE, DIVIDES, ZEROES, NO_GRAPH, BOOK}, mistake="weight_decay.not_in_place"),
    # The book's code (d2l-zh 4.5, d2l-en 3.7), written for this project: it passes everything, so a learner's code
    # and the book's notebooks stay interchangeable.
    book_version(EX, "l2_penalty and sgd as the book prints them", """
        import torch


        def l2_penalty(w):
            return torch.sum(w.pow(2)) / 2


        def sgd(params, lr, batch_size):
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad / batch_size
                    p.grad.zero_()
        """, loses=set(), mistake=None),
]
