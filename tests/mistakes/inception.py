"""Single-mistake variants of inception (d2l 7.4)."""

from tests.mistakes import edits, variant

EX = "inception"
SHAPES = "output shape: c1 + c2[1] + c3[1] + c4 channels, height and width kept"
BOOK = ("GoogLeNet's first block: Inception(192, 64, (96, 128), (16, 32), 32) gives 256 channels at 28x28, "
        "163,696 parameters")
LAYOUT = "parameters: p1_1, p2_1, p2_2, p3_1, p3_2, p4_2 with the book's shapes (p4_1 is the pooling)"
ORACLE = "equals an oracle built from F.conv2d, F.max_pool2d and torch.cat with the same weights"
REF = "matches the reference solution on the book's 480-channel block at 12x12"
GRADIENT = "gradients reach the input and every parameter as the oracle's do"
LEARNS = "a small GoogLeNet of your Inception blocks learns the generated shape images"
FORWARD = {SHAPES, BOOK, ORACLE, REF, GRADIENT, LEARNS}  # every test that runs forward

VARIANTS = [
    # Paths 2 and 3 swapped in the concatenation: right shapes, permuted channels.
    variant(EX, "concatenation order", "torch.cat((p1, p2, p3, p4), dim=1)", "torch.cat((p1, p3, p2, p4), dim=1)",
            loses={ORACLE, REF}, mistake="inception.concat_order"),
    # Concatenated on the batch dimension: the paths' channels differ, so torch.cat fails.
    variant(EX, "concatenation on dim 0", "torch.cat((p1, p2, p3, p4), dim=1)", "torch.cat((p1, p2, p3, p4), dim=0)",
            loses=FORWARD, mistake="inception.cat_dim"),
    # No ReLU after the 1x1 reductions of paths 2 and 3.
    edits(EX, "no ReLU after the reductions", [
        ("self.p2_2(F.relu(self.p2_1(x)))", "self.p2_2(self.p2_1(x))"),
        ("self.p3_2(F.relu(self.p3_1(x)))", "self.p3_2(self.p3_1(x))"),
    ], loses={ORACLE, REF}, mistake="inception.relu_after_reduction_missing"),
    # The pooling with the default stride (= kernel size) and no padding: path 4 shrinks.
    variant(EX, "pooling shrinks", "nn.MaxPool2d(kernel_size=3, stride=1, padding=1)", "nn.MaxPool2d(kernel_size=3)",
            loses=FORWARD, mistake="inception.pool_shrinks"),
    # padding=1 on the 5x5 convolution: path 3 loses two rows and columns.
    variant(EX, "5x5 padding", "kernel_size=5, padding=2", "kernel_size=5, padding=1",
            loses=FORWARD, mistake="inception.padding_5x5"),
    # Path 4 convolves first and pools afterwards.
    variant(EX, "convolution before the pooling", "p4 = F.relu(self.p4_2(self.p4_1(x)))",
            "p4 = self.p4_1(F.relu(self.p4_2(x)))", loses={ORACLE, REF}, mistake="inception.pool_path_order"),
    # Average pooling instead of max pooling.
    variant(EX, "average pooling", "nn.MaxPool2d(kernel_size=3, stride=1, padding=1)",
            "nn.AvgPool2d(kernel_size=3, stride=1, padding=1)", loses={ORACLE, REF}, mistake="inception.avg_pool"),
    # Path 1 detached: right values, no gradient to x or p1_1 through it.
    variant(EX, "path 1 detached", "p1 = F.relu(self.p1_1(x))", "p1 = F.relu(self.p1_1(x)).detach()",
            loses={GRADIENT}, mistake="inception.hidden_from_autograd"),
]
