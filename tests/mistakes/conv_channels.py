"""Single-mistake variants of conv_channels (course 6.2-6.3)."""

from tests.mistakes import variant

EX = "conv_channels"
BOOK_IN = "the book's two-channel example: corr2d_multi_in gives [[56, 72], [104, 120]]"
RANDOM_IN = "corr2d_multi_in on random inputs: 1, 3 and 4 channels, non-square"
BOOK_OUT = "the book's three output channels (kernels K, K + 1, K + 2) give shape (3, 2, 2)"
RANDOM_OUT = "corr2d_multi_in_out on random inputs: output channels in the order of K"
ONE_BY_ONE = "corr2d_multi_in_out_1x1 equals the matrix-product form"
SECTION = "conv_output_shape on the padding and stride cases of section 6.2, checked against nn.Conv2d"
MANY = "conv_output_shape on every small case (non-square, padding 0 to 2, stride 1 to 3)"
DTYPE_DEVICE = "all three functions keep X's dtype and device (float64 in, float64 out)"
LEARNS = "learns a 2-in, 3-out kernel by gradient descent through corr2d_multi_in_out"
# corr2d_multi_in_out is built on corr2d_multi_in: a wrong channel sum shows in both and in the smoke-check.
MULTI_IN = {BOOK_IN, RANDOM_IN, BOOK_OUT, RANDOM_OUT, LEARNS}
MULTI_OUT = {BOOK_OUT, RANDOM_OUT, LEARNS}
SHAPES = {SECTION, MANY}

VARIANTS = [
    # Adds the per-channel maps up over a spatial axis instead of the channel axis.
    variant(EX, "channel sum over axis 1", "per_channel.sum(dim=0)", "per_channel.sum(dim=1)",
            loses=MULTI_IN, mistake="conv_channels.wrong_sum_axis"),
    # Returns the stacked per-channel maps without adding them up.
    variant(EX, "channels not added up", "per_channel.sum(dim=0)", "per_channel",
            loses=MULTI_IN, mistake="conv_channels.wrong_sum_axis"),
    # Averages the channels: every value c_i times too small.
    variant(EX, "channels averaged", "per_channel.sum(dim=0)", "per_channel.mean(dim=0)",
            loses=MULTI_IN, mistake="conv_channels.channels_averaged"),
    # The output channels stacked along dim 1: shape (oh, c_o, ow).
    variant(EX, "output channels stacked on dim 1", "torch.stack(outputs, dim=0)", "torch.stack(outputs, dim=1)",
            loses=MULTI_OUT, mistake="conv_channels.wrong_stack_dim"),
    # torch.cat instead of torch.stack: shape (c_o * oh, ow).
    variant(EX, "output channels concatenated", "torch.stack(outputs, dim=0)", "torch.cat(outputs, dim=0)",
            loses=MULTI_OUT, mistake="conv_channels.wrong_stack_dim"),
    # The 1x1 kernel reshaped to (c_i, c_o) and transposed.
    variant(EX, "1x1: K reshaped to (c_i, c_o)", "K = K.reshape((c_o, c_i))", "K = K.reshape((c_i, c_o)).T",
            loses={ONE_BY_ONE}, mistake="conv_channels.pointwise_wrong_reshape"),
    # The 1x1 input reshaped to (h * w, c_i): reshape is not a transposition.
    variant(EX, "1x1: X reshaped to (h * w, c_i)", "Y = torch.matmul(K, X)",
            "Y = torch.matmul(X.reshape((h * w, c_i)), K.T).T",
            loses={ONE_BY_ONE}, mistake="conv_channels.pointwise_wrong_reshape"),
    # The 1x1 product computed as (h * w, c_o) and reshaped without transposing back.
    variant(EX, "1x1: product not transposed back", "Y = torch.matmul(K, X)", "Y = torch.matmul(X.T, K.T)",
            loses={ONE_BY_ONE}, mistake="conv_channels.pointwise_wrong_reshape"),
    # The 1x1 product in float32 whatever X is.
    variant(EX, "1x1: computed in float32", "Y = torch.matmul(K, X)", "Y = torch.matmul(K.float(), X.float())",
            loses={DTYPE_DEVICE}),
    # Padding counted once: (n - k + p + s) // s.
    variant(EX, "padding counted once", "(n - k + 2 * p + s) // s", "(n - k + p + s) // s",
            loses=SHAPES, mistake="conv_channels.padding_counted_once"),
    # Rounded up instead of down: a window running past the padded input is counted.
    variant(EX, "stride division rounded up", "(n - k + 2 * p + s) // s", "-(-(n - k + 2 * p + s) // s)",
            loses=SHAPES, mistake="conv_channels.stride_rounding"),
    # True division: floats such as 2.6666666666666665.
    variant(EX, "true division", "(n - k + 2 * p + s) // s", "(n - k + 2 * p + s) / s",
            loses=SHAPES, mistake="conv_channels.stride_rounding"),
]
