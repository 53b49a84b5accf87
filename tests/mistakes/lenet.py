"""Single-mistake variants of lenet (d2l 6.5)."""

from tests.mistakes import variant

EX = "lenet"
TABLE = "the book's shape table: each layer's output for a 1x1x28x28 input"
KINDS = "sigmoid activations and average pooling, as in the book's LeNet"
COUNT = "61,706 parameters"
BATCHES = "evaluate_accuracy: a list of (X, y) batches of 4, with 5 of 8 examples right"
UNEVEN = "evaluate_accuracy: a last batch of 2 counts as 2 examples, not as a whole batch"
EVAL = "evaluate_accuracy puts the net in evaluation mode"
DEVICE = "evaluate_accuracy moves each batch to the net's device (or to device=)"
LEARNS = "your LeNet learns the generated shape images"

VARIANTS = [
    # No padding on the first convolution: 24 x 24 after it, 16 x 4 x 4 = 256 values at the flatten, and the first
    # Linear (400 inputs) fails: the net cannot run on 28 x 28 images at all, so it cannot train either.
    variant(EX, "first convolution without padding", "kernel_size=5, padding=2)", "kernel_size=5)",
            loses={TABLE, LEARNS}, mistake="lenet.missing_padding"),
    # The same, with the first Linear resized to fit (16 * 4 * 4): it runs, but the shapes and the count differ.
    variant(EX, "no padding, Linear resized to 16 * 4 * 4",
            "nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),\n        nn.AvgPool2d(kernel_size=2, stride=2),\n"
            "        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),\n        nn.AvgPool2d(kernel_size=2, stride=2),\n"
            "        nn.Flatten(),\n        nn.Linear(16 * 5 * 5, 120)",
            "nn.Conv2d(1, 6, kernel_size=5), nn.Sigmoid(),\n        nn.AvgPool2d(kernel_size=2, stride=2),\n"
            "        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),\n        nn.AvgPool2d(kernel_size=2, stride=2),\n"
            "        nn.Flatten(),\n        nn.Linear(16 * 4 * 4, 120)",
            loses={TABLE, COUNT}, mistake="lenet.missing_padding"),
    # Max pooling instead of the book's average pooling: same shapes, other layers.
    variant(EX, "max pooling", "nn.AvgPool2d(", "nn.MaxPool2d(", count=2,
            loses={KINDS}, mistake="lenet.max_pooling"),
    # ReLU instead of the book's sigmoid: same shapes, other layers (and it trains faster).
    variant(EX, "ReLU activations", "nn.Sigmoid()", "nn.ReLU()", count=4,
            loses={KINDS}, mistake="lenet.relu_instead_of_sigmoid"),
    # A wrong flatten size: nn.Linear(16 * 4 * 4, 120) with the padding in place.
    variant(EX, "first Linear takes 16 * 4 * 4", "nn.Linear(16 * 5 * 5, 120)", "nn.Linear(16 * 4 * 4, 120)",
            loses={TABLE, COUNT, LEARNS}, mistake="lenet.flatten_size"),
    # The mean of per-batch accuracies: right when all batches are the same size, wrong with a smaller last batch.
    variant(EX, "mean of per-batch accuracies",
            "            correct += int((y_hat == y).sum())\n            total += y.numel()\n    return correct / total",
            "            correct += float((y_hat == y).float().mean())\n            total += 1\n    return correct / total",
            loses={UNEVEN}, mistake="lenet.averaged_batch_accuracy"),
    # net.eval() never called.
    variant(EX, "no net.eval()", "        net.eval()\n", "",
            loses={EVAL}, mistake="lenet.no_eval"),
    # The data is never moved: it stays wherever the iterator made it.
    variant(EX, "batches not moved to the device", "            X, y = X.to(device), y.to(device)\n", "",
            loses={DEVICE}, mistake="lenet.ignores_net_device"),
]
