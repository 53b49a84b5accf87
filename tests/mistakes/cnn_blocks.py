"""Single-mistake variants of cnn_blocks (d2l 7.2 VGG and 7.3 NiN)."""

from tests.mistakes import edits, variant

EX = "cnn_blocks"
VGG_LAYERS = "vgg_block: the layers in order, num_convs x (3x3 Conv2d, ReLU) then MaxPool2d, with the right channels"
VGG_VALUES = ("vgg_block: values equal F.conv2d (padding 1), ReLU and F.max_pool2d(2, stride 2) on the block's "
              "weights")
VGG11 = "VGG-11 at 1/16 width: the book's shapes after each block for a 1x1x224x224 input"
NIN_LAYERS = "nin_block: the layers in order, Conv2d, ReLU, 1x1 Conv2d, ReLU, 1x1 Conv2d, ReLU, with the right channels"
NIN_VALUES = "nin_block: values equal F.conv2d (given stride and padding), then two 1x1 F.conv2d, each with ReLU"
NIN_SHAPES = "NiN at 1/16 width: the book's shapes after each block and pooling for a 1x1x224x224 input"
PARAMS = "parameter counts: VGG-11's five blocks and the NiN blocks at 1/16 width, against the closed form"
LEARNS = "a narrow VGG of your blocks learns the generated shape images"


VARIANTS = [
    # No ReLU after the convolutions of a VGG block.
    variant(EX, "vgg_block without ReLU", "        layers.append(nn.ReLU())\n", "",
            loses={VGG_LAYERS, VGG_VALUES, LEARNS}, mistake="cnn_blocks.vgg_relu_missing"),
    # Padding 0: each 3x3 convolution shrinks the map by 2.
    variant(EX, "vgg_block without padding", "kernel_size=3, padding=1)", "kernel_size=3)",
            loses={VGG_VALUES, VGG11, LEARNS}, mistake="cnn_blocks.vgg_padding_missing"),
    # in_channels never updated: the second convolution expects the block's input channels.
    variant(EX, "vgg_block in_channels not updated", "        in_channels = out_channels\n", "",
            loses={VGG_LAYERS, VGG_VALUES, VGG11, PARAMS, LEARNS}, mistake="cnn_blocks.vgg_in_channels_not_updated"),
    # The pooling appended inside the loop: one per convolution.
    edits(EX, "vgg_block pool inside the loop", [
        ("        in_channels = out_channels\n    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))\n",
         "        in_channels = out_channels\n        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))\n"),
    ], loses={VGG_LAYERS, VGG_VALUES, VGG11, LEARNS}, mistake="cnn_blocks.vgg_pool_in_loop"),
    # The NiN block without its last ReLU.
    variant(EX, "nin_block without the last ReLU",
            "nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())",
            "nn.Conv2d(out_channels, out_channels, kernel_size=1))",
            loses={NIN_LAYERS, NIN_VALUES}, mistake="cnn_blocks.nin_last_relu_missing"),
    # The 1x1 convolutions reading in_channels.
    variant(EX, "nin_block 1x1 convolutions with the wrong channels",
            "        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),\n",
            "        nn.Conv2d(in_channels, out_channels, kernel_size=1), nn.ReLU(),\n",
            loses={NIN_LAYERS, NIN_VALUES, NIN_SHAPES, PARAMS}, mistake="cnn_blocks.nin_1x1_channels"),
    # Stride and padding passed in the wrong positional order.
    variant(EX, "nin_block stride and padding swapped",
            "nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding)",
            "nn.Conv2d(in_channels, out_channels, kernel_size, padding, strides)",
            loses={NIN_VALUES, NIN_SHAPES}, mistake="cnn_blocks.nin_stride_padding_swapped"),
]
