"""Single-mistake variants of batch_norm (d2l 7.5)."""

from tests.mistakes import variant

EX = "batch_norm"
TRAIN_2D = "training mode, 2-D input: each feature normalised with the batch's mean and biased variance"
TRAIN_4D = "training mode, 4-D input: each channel normalised over N, H and W"
MOVING = "the moving statistics: momentum · old + (1 − momentum) · batch, returned updated"
PREDICT = "prediction mode (under torch.no_grad()): normalised with the moving statistics, returned unchanged"
EPS = "eps is added to the variance inside the square root"
GRADS = "gradients flow back to X, gamma and beta"
MODULE = ("BatchNorm(num_features, num_dims): gamma ones, beta zeros, moving statistics zeros and ones, "
          "updated by forward")
LEARNS = "a LeNet with your BatchNorm learns the shape images faster than without"

VARIANTS = [
    # X.var() divides by m - 1: Y in training mode and the moving variance are off.
    variant(EX, "unbiased batch variance", "var = ((X - mean) ** 2).mean(dim=dims, keepdim=True)",
            "var = X.var(dim=dims, keepdim=True)",
            loses={TRAIN_2D, TRAIN_4D, MOVING}, mistake="batch_norm.unbiased_variance"),
    # nn.BatchNorm2d's convention: momentum weighs the new batch.
    variant(EX, "momentum convention reversed",
            "new_mean = momentum * moving_mean + (1.0 - momentum) * mean.detach()",
            "new_mean = (1.0 - momentum) * moving_mean + momentum * mean.detach()",
            loses={MOVING}, mistake="batch_norm.momentum_reversed"),
    # 4-D statistics per channel and pixel (over N only).
    variant(EX, "4-D statistics over N only", "dims = (0, 2, 3)", "dims = (0,)",
            loses={TRAIN_4D, MOVING}, mistake="batch_norm.wrong_dims_4d"),
    # Prediction mode normalises with the batch's statistics (the mode test never switches).
    variant(EX, "prediction mode uses batch statistics", "if not torch.is_grad_enabled():", "if False:",
            loses={PREDICT}, mistake="batch_norm.eval_uses_batch_stats"),
    # eps added after the square root, in both modes.
    variant(EX, "eps outside the square root", "torch.sqrt(moving_var + eps)", "(torch.sqrt(moving_var) + eps)",
            loses={EPS}, mistake="batch_norm.eps_outside_sqrt"),
    # The old moving statistics are returned: BatchNorm keeps zeros and ones, and prediction mode fails.
    variant(EX, "moving statistics not updated", "return gamma * X_hat + beta, new_mean, new_var",
            "return gamma * X_hat + beta, moving_mean, moving_var",
            loses={MOVING, LEARNS}, mistake="batch_norm.moving_stats_not_updated"),
]
