"""Single-mistake variants of perceptron (course 4.1)."""

from tests.mistakes import variant

EX = "perceptron"
HAND = "the hand-worked example: w and b after pass 1 and at the end"
EPOCHS = "epochs counts the passes, the final clean pass included"
TYPES = "w and b keep X's dtype and device; epochs is an int"
UNCHANGED = "X and y are left unchanged"
SEPARATES = "the result separates linearly separable training data"
XOR = "XOR is never learned: epochs == max_epochs"
HELD_OUT = "separable data with a margin: the hyperplane separates held-out points"

MISTAKE_TEST = "            if y[i] * ((X[i] * w).sum() + b) <= 0:\n"
LOOP = "    for epoch in range(1, max_epochs + 1):\n        mistakes = 0\n        for i in range(n):\n"
UPDATE = ("            if y[i] * ((X[i] * w).sum() + b) <= 0:\n"
          "                w += y[i] * X[i]\n"
          "                b += y[i]\n"
          "                mistakes += 1\n")

VARIANTS = [
    # `< 0` for `<= 0`: at w = 0, b = 0 every margin is 0, so nothing is ever updated and pass 1 counts as clean.
    # The perceptron learns nothing: every test of what it learns fails; the epoch count (1 pass, and it changed
    # nothing) is consistent with its own runs.
    variant(EX, "strict inequality: < 0 instead of <= 0", MISTAKE_TEST, MISTAKE_TEST.replace("<= 0", "< 0"),
            loses={HAND, SEPARATES, XOR, HELD_OUT}, mistake="perceptron.strict_inequality"),
    # Updating on every example, counting only the mistakes: w drifts towards the sum of y_i x_i and never separates.
    variant(EX, "update on every example, not only on a mistake", UPDATE,
            "            if y[i] * ((X[i] * w).sum() + b) <= 0:\n"
            "                mistakes += 1\n"
            "            w += y[i] * X[i]\n"
            "            b += y[i]\n",
            loses={HAND, SEPARATES, HELD_OUT}, mistake="perceptron.update_every_sample"),
    # The bias is never updated: the boundary goes through the origin and cannot separate data away from it.
    variant(EX, "bias never updated", "                b += y[i]\n", "",
            loses={HAND, SEPARATES, HELD_OUT}, mistake="perceptron.no_bias"),
    # The examples are visited from the last to the first.
    variant(EX, "examples visited in reverse order", "for i in range(n):", "for i in reversed(range(n)):",
            loses={HAND}, mistake="perceptron.wrong_order"),
    # A fresh random order every pass: still a perceptron that converges, but not the classic one the spec pins down.
    variant(EX, "examples shuffled every pass", "for i in range(n):", "for i in torch.randperm(n).tolist():",
            loses={HAND}, mistake="perceptron.shuffled"),
    # A 0-based pass counter returned as is: one short.
    variant(EX, "epoch count off by one (0-based counter)",
            "for epoch in range(1, max_epochs + 1):", "for epoch in range(max_epochs):",
            loses={EPOCHS}, mistake="perceptron.epoch_off_by_one"),
    # Never stops on a clean pass: w and b are right (clean passes change nothing), but epochs is always max_epochs.
    variant(EX, "no stop after a clean pass", "        if mistakes == 0:\n            return w, b, epoch\n", "",
            loses={EPOCHS}, mistake="perceptron.no_early_stop"),
    # w and b made with PyTorch's default dtype (float32) whatever X's dtype is.
    variant(EX, "w and b always float32",
            "    w = torch.zeros(d, dtype=X.dtype, device=X.device)\n    b = torch.zeros((), dtype=X.dtype, device=X.device)\n",
            "    w = torch.zeros(d, device=X.device)\n    b = torch.zeros((), device=X.device)\n",
            loses={TYPES}, mistake="perceptron.default_dtype"),
    # The labels folded into X in place (each row becomes y_i x_i): the same updates, but the caller's X changes.
    variant(EX, "labels folded into X in place", LOOP + UPDATE,
            "    Z = X.mul_(y.reshape(-1, 1))  # each row becomes y_i x_i, written into the caller's X\n"
            + LOOP +
            "            if (Z[i] * w).sum() + y[i] * b <= 0:\n"
            "                w += Z[i]\n"
            "                b += y[i]\n"
            "                mistakes += 1\n",
            loses={UNCHANGED}, mistake="perceptron.input_modified"),
]
