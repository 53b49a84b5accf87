"""Small optimizers for smoke-checks.

torch.optim is not used here on purpose: constructing the first torch.optim optimizer in a process imports
torch._dynamo, which costs about 1.6 s on a 2-core machine, longer than most smoke-checks train. These follow
the same update rules (plain SGD as in d2l 3.4, Adam as in d2l 12.10, bias-corrected) in a few lines.
"""

from __future__ import annotations


import torch


class SGD:
    def __init__(self, params, lr: float):
        self.params = [p for p in params]
        self.lr = lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for p in self.params:
            if p.grad is not None:
                p -= self.lr * p.grad


class Adam(SGD):
    """Adam with bias correction. Its moment estimates are created at a parameter's first update, so parameters
    that only get their shape during the first forward pass (nn.LazyLinear's) work too."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.t = 0
        self.state: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        c1 = 1 - self.beta1 ** self.t
        c2 = 1 - self.beta2 ** self.t
        for i, p in enumerate(self.params):
            if p.grad is None or isinstance(p, torch.nn.parameter.UninitializedParameter):
                continue
            m, v = self.state.get(i) or (None, None)
            if m is None or m.shape != p.shape or m.device != p.device:
                m, v = torch.zeros_like(p), torch.zeros_like(p)
                self.state[i] = (m, v)
            m.mul_(self.beta1).add_(p.grad, alpha=1 - self.beta1)
            v.mul_(self.beta2).addcmul_(p.grad, p.grad, value=1 - self.beta2)
            denom = (v / c2).sqrt_().add_(self.eps)
            p.addcdiv_(m, denom, value=-self.lr / c1)
