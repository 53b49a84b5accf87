"""The generated image set of the convolutional chapters' smoke-checks (tutor.grading.data)."""

import torch

from tutor.grading.data import CLASSES, STAMP, _stamps, batches, shape_images


def test_the_same_seed_gives_the_same_images_and_another_seed_others():
    X, y = shape_images(64, seed=3)
    X2, y2 = shape_images(64, seed=3)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    assert not torch.equal(X, shape_images(64, seed=4)[0])
    assert X.shape == (64, 1, 28, 28) and X.dtype == torch.float32 and y.dtype == torch.int64


def test_every_class_is_a_different_shape_at_a_random_position():
    stamps = _stamps()
    assert stamps.shape == (len(CLASSES), STAMP, STAMP)
    flat = stamps.reshape(len(CLASSES), -1)
    assert len({tuple(row.tolist()) for row in flat}) == len(CLASSES)
    X, y = shape_images(400, seed=0, noise=0.0)
    assert set(y.tolist()) == set(range(10))
    corners = {tuple((img[0] > 0).nonzero().min(0).values.tolist()) for img in X}
    assert len(corners) > 50  # the shapes move around the image


def test_batches_cover_one_epoch_once():
    X, y = shape_images(50, seed=1)
    seen = torch.cat([yb for _xb, yb in batches(X, torch.arange(50), 16)])
    assert sorted(seen.tolist()) == list(range(50))


def test_spread_keeps_every_shape_near_the_centre():
    X, y = shape_images(300, seed=5, noise=0.0, spread=3)
    centre = (28 - STAMP) // 2  # 10: the top-left corner that centres a 7-pixel shape
    lit = [img[0].nonzero() for img in X]
    assert all(len(px) and px.min() >= centre - 3 and px.max() <= centre + 3 + STAMP - 1 for px in lit)
    tops = {int(px[:, 0].min()) for px, label in zip(lit, y.tolist()) if label == 7}  # the filled square
    assert tops == set(range(centre - 3 + 1, centre + 3 + 2))  # it starts one row inside its stamp
    try:
        shape_images(2, spread=-1)
    except ValueError as exc:
        assert "spread" in str(exc)
    else:
        raise AssertionError("a negative spread was accepted")
