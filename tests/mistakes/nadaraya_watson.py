"""Single-mistake variants of nadaraya_watson (d2l 12.1)."""

from tests.mistakes import edits, variant

EX = "nadaraya_watson"
HAND = "nw_predict: the formula on a hand-worked case"
ROWS = "nw_predict: shapes (m,) and (m, n); each query's row of weights sums to 1"
FAR = "nw_predict: a query far from every key gives finite weights (numerically stable)"
DTYPE = "nw_predict keeps the inputs' dtype and device (float64 in, float64 out)"
MODULE = "NWKernelRegression: one parameter w of shape (1,), the book's training shapes, attention_weights kept"
W_ONE = "NWKernelRegression at w = 1 equals the non-parametric kernel regression"
W_SQUARED = "NWKernelRegression: w scales the distance before squaring, -((q - k) · w)² / 2"
LEARNS = "training w with the book's SGD (lr 0.5) lowers the test MSE on the book's toy data"

NW_SCORES = "scores = -(x_query[:, None] - x_train[None, :]) ** 2 / 2"
NW_SOFTMAX = "    weights = torch.softmax(scores, dim=1)  # softmax"
W_SCORES = "scores = -((queries[:, None] - keys) * self.w) ** 2 / 2"
W_SOFTMAX = "self.attention_weights = torch.softmax(scores, dim=1)"

VARIANTS = [
    # nw_predict
    variant(EX, "softmax over the queries (dim=0)", NW_SOFTMAX, "    weights = torch.softmax(scores, dim=0)  # softmax",
            loses={HAND, ROWS}, mistake="nadaraya_watson.softmax_wrong_dim"),
    variant(EX, "the 1/2 left out", NW_SCORES, "scores = -(x_query[:, None] - x_train[None, :]) ** 2",
            loses={HAND}, mistake="nadaraya_watson.half_missing"),
    variant(EX, "absolute distance instead of its square", NW_SCORES,
            "scores = -(x_query[:, None] - x_train[None, :]).abs() / 2",
            loses={HAND}, mistake="nadaraya_watson.square_missing"),
    variant(EX, "the distance not squared", NW_SCORES, "scores = -(x_query[:, None] - x_train[None, :]) / 2",
            loses={HAND}, mistake="nadaraya_watson.square_missing"),
    variant(EX, "the minus sign left out", NW_SCORES, "scores = (x_query[:, None] - x_train[None, :]) ** 2 / 2",
            loses={HAND}, mistake="nadaraya_watson.score_sign"),
    variant(EX, "plain exp / sum exp", NW_SOFTMAX,
            "    weights = scores.exp() / scores.exp().sum(dim=1, keepdim=True)  # softmax",
            loses={FAR}, mistake="nadaraya_watson.unstable_softmax"),
    variant(EX, "Gaussian kernel values not normalised", NW_SOFTMAX, "    weights = scores.exp()  # softmax",
            loses={HAND, ROWS, FAR}, mistake="nadaraya_watson.not_normalised"),
    variant(EX, "predictions as a column (m, 1)", "return weights @ y_train, weights",
            "return weights @ y_train[:, None], weights", loses={HAND, ROWS}, mistake="nadaraya_watson.shapes"),
    variant(EX, "weights returned transposed (n, m)", "return weights @ y_train, weights",
            "return weights @ y_train, weights.T", loses={HAND, ROWS}, mistake="nadaraya_watson.shapes"),
    variant(EX, "only the predictions returned", "return weights @ y_train, weights", "return weights @ y_train",
            loses={HAND, ROWS, FAR, DTYPE}, mistake="nadaraya_watson.return_tuple"),
    # NWKernelRegression
    variant(EX, "module: softmax over the queries (dim=0)", W_SOFTMAX,
            "self.attention_weights = torch.softmax(scores, dim=0)",
            loses={W_ONE, W_SQUARED, LEARNS}, mistake="nadaraya_watson.softmax_wrong_dim"),
    variant(EX, "module: w multiplies the squared distance", W_SCORES,
            "scores = -((queries[:, None] - keys) ** 2) * self.w / 2",
            loses={W_SQUARED}, mistake="nadaraya_watson.w_not_squared"),
    variant(EX, "module: the distance divided by w", W_SCORES,
            "scores = -((queries[:, None] - keys) / self.w) ** 2 / 2",
            loses={W_SQUARED, LEARNS}, mistake="nadaraya_watson.w_divides"),
    variant(EX, "module: w ignored", W_SCORES, "scores = -((queries[:, None] - keys)) ** 2 / 2",
            loses={W_SQUARED, LEARNS}, mistake="nadaraya_watson.w_ignored"),
    variant(EX, "module: the 1/2 left out", W_SCORES, "scores = -((queries[:, None] - keys) * self.w) ** 2",
            loses={W_ONE, W_SQUARED}, mistake="nadaraya_watson.half_missing"),
    variant(EX, "module: the minus sign left out", W_SCORES, "scores = ((queries[:, None] - keys) * self.w) ** 2 / 2",
            loses={W_ONE, W_SQUARED, LEARNS}, mistake="nadaraya_watson.score_sign"),
    variant(EX, "module: w detached from autograd", W_SCORES,
            "scores = -((queries[:, None] - keys) * self.w.detach()) ** 2 / 2",
            loses={LEARNS}, mistake="nadaraya_watson.not_differentiable"),
    variant(EX, "module: attention_weights not kept", W_SOFTMAX + "  # (n, m)\n        return (self.attention_weights",
            "weights = torch.softmax(scores, dim=1)\n        return (weights",
            loses={MODULE}, mistake="nadaraya_watson.attention_weights_missing"),
    variant(EX, "module: w a plain tensor, not a parameter", "self.w = nn.Parameter(torch.rand((1,)))",
            "self.w = torch.rand((1,), requires_grad=True)",
            loses={MODULE, W_ONE, W_SQUARED, LEARNS}, mistake="nadaraya_watson.w_not_parameter"),
]
