"""Generated data sets for smoke-checks (no downloads, deterministic for a seed).

`shape_images` is the image set of the convolutional chapters: one of ten small strokes and shapes, stamped at a
random position of a dark square image with noise. A model must find the shape wherever it is, which is what
convolutions and pooling are for; a LeNet learns it in a few seconds on a CPU.
"""

from __future__ import annotations

import torch

STAMP = 7  # the side of every shape, in pixels

CLASSES = ("horizontal bar", "vertical bar", "diagonal", "anti-diagonal", "plus", "cross", "square outline",
           "filled square", "corner", "two dots")


def _stamps() -> torch.Tensor:
    """The ten shapes as a (10, STAMP, STAMP) tensor of zeros and ones."""
    s = torch.zeros(len(CLASSES), STAMP, STAMP)
    mid, last = STAMP // 2, STAMP - 1
    s[0, mid, :] = 1                                  # horizontal bar
    s[1, :, mid] = 1                                  # vertical bar
    s[2] = torch.eye(STAMP)                           # diagonal
    s[3] = torch.eye(STAMP).flip(1)                   # anti-diagonal
    s[4, mid, :] = 1
    s[4, :, mid] = 1                                  # plus
    s[5] = torch.clamp(torch.eye(STAMP) + torch.eye(STAMP).flip(1), max=1)  # cross
    s[6, 0, :] = s[6, last, :] = s[6, :, 0] = s[6, :, last] = 1              # square outline
    s[7, 1:last, 1:last] = 1                          # filled square
    s[8, last, :] = 1
    s[8, :, 0] = 1                                    # corner (an L)
    s[9, 1:3, 1:3] = 1
    s[9, 4:6, 4:6] = 1                                # two dots
    return s


def shape_images(n: int, *, size: int = 28, seed: int = 0, noise: float = 0.1, classes: int = 10,
                 spread: int | None = None,
                 device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """`n` images (n, 1, size, size) float32 and their labels (n,) int64 in 0..classes-1.

    Each image is dark (0) with one shape of brightness 0.7 to 1.0 at a uniformly random position, plus Gaussian
    noise of standard deviation `noise`. With `spread`, the shape's top-left corner lies at most `spread` pixels
    from where it would centre the shape, in each direction (an easier set, for networks that learn slowly such as
    the book's sigmoid LeNet); without it, anywhere in the image. The same arguments give the same tensors on every machine (a CPU
    generator draws everything; the result is then moved to `device`)."""
    if not 1 <= classes <= len(CLASSES):
        raise ValueError(f"classes must be 1 to {len(CLASSES)}, not {classes}")
    if size < STAMP:
        raise ValueError(f"size must be at least {STAMP}, not {size}")
    gen = torch.Generator().manual_seed(seed)
    stamps = _stamps()[:classes]
    y = torch.randint(0, classes, (n,), generator=gen)
    low, high = 0, size - STAMP
    if spread is not None:
        if spread < 0:
            raise ValueError(f"spread must be 0 or more, not {spread}")
        centre = (size - STAMP) // 2
        low, high = max(low, centre - spread), min(high, centre + spread)
    rows = torch.randint(low, high + 1, (n,), generator=gen)
    cols = torch.randint(low, high + 1, (n,), generator=gen)
    bright = 0.7 + 0.3 * torch.rand(n, generator=gen)
    X = noise * torch.randn(n, 1, size, size, generator=gen)
    for i in range(n):
        r, c = int(rows[i]), int(cols[i])
        X[i, 0, r:r + STAMP, c:c + STAMP] += bright[i] * stamps[y[i]]
    return X.to(device), y.to(device)


def batches(X: torch.Tensor, y: torch.Tensor, batch_size: int, *, seed: int = 0):
    """Minibatches (X_b, y_b) of one shuffled epoch (the order fixed by `seed`)."""
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed)).to(y.device)
    for start in range(0, len(y), batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], y[idx]
