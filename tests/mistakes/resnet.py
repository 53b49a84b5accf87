"""Single-mistake variants of resnet (d2l 7.6)."""

from tests.mistakes import edits, variant

EX = "resnet"
SHAPES = "the book's shapes: (4, 3, 6, 6) is kept; use_1x1conv=True, strides=2, 6 channels give (4, 6, 3, 3)"
LAYOUT = "parameters: conv1, conv2 (3x3), conv3 (1x1, only with use_1x1conv), bn1, bn2 with the book's shapes"
ORACLE = ("equals an oracle built from F.conv2d and F.batch_norm with the same weights, in training and eval "
          "mode")
SKIP = "skip connection: with conv1 and conv2 zeroed the block returns ReLU of the shortcut"
REF = "matches the reference solution on a wider block in training mode, running statistics included"
GRADIENT = "a gradient reaches the input through a stack of 20 blocks"
LEARNS = "a two-stage ResNet of your blocks learns the generated shape images"


VARIANTS = [
    # The last ReLU left out: the block can return negative values.
    variant(EX, "no ReLU after the addition", "return F.relu(Y + X)", "return Y + X",
            loses={ORACLE, SKIP, REF}, mistake="resnet.relu_after_add_missing"),
    # The ReLU applied to the main path before the addition, none after it.
    edits(EX, "ReLU before the addition", [
        ("Y = self.bn2(self.conv2(Y))", "Y = F.relu(self.bn2(self.conv2(Y)))"),
        ("return F.relu(Y + X)", "return Y + X"),
    ], loses={ORACLE, SKIP, REF}, mistake="resnet.relu_before_add"),
    # conv3 created but never applied: X keeps its channels and size, and the addition fails.
    variant(EX, "shortcut without the 1x1 convolution",
            "        if self.conv3 is not None:\n            X = self.conv3(X)\n", "",
            loses={SHAPES, ORACLE, SKIP, REF, LEARNS}, mistake="resnet.shortcut_not_projected"),
    # The stride moved from conv1 to conv2: same shapes, other values.
    edits(EX, "stride on conv2 instead of conv1", [
        ("kernel_size=3, padding=1, stride=strides)", "kernel_size=3, padding=1)\n        self._s = strides"),
        ("self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)",
         "self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1, stride=strides)"),
    ], loses={ORACLE, REF}, mistake="resnet.stride_on_conv2"),
    # ReLU before the first batch norm.
    variant(EX, "ReLU before bn1", "Y = F.relu(self.bn1(self.conv1(X)))", "Y = self.bn1(F.relu(self.conv1(X)))",
            loses={ORACLE, REF}, mistake="resnet.bn_order"),
    # The shortcut added before bn2, which then normalises it.
    edits(EX, "shortcut added before bn2", [
        ("Y = self.bn2(self.conv2(Y))", "Y = self.conv2(Y)"),
        ("return F.relu(Y + X)", "return F.relu(self.bn2(Y + X))"),
    ], loses={ORACLE, REF}, mistake="resnet.add_before_bn2"),
    # No shortcut at all: a plain block.
    variant(EX, "no skip connection", "return F.relu(Y + X)", "return F.relu(Y)",
            loses={ORACLE, SKIP, REF, GRADIENT}, mistake="resnet.skip_missing"),
    # The shortcut detached: right values, but no gradient through the shortcut.
    variant(EX, "shortcut detached", "return F.relu(Y + X)", "return F.relu(Y + X.detach())",
            loses={GRADIENT}, mistake="resnet.shortcut_detached"),
]
