"""Tiny image data and a small trained classifier for the analysis tests."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from cdga.training.networks import Classifier


def toy_images(n: int, seed: int, shift: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` 3x8x8 images in [0, 1]: class 0 is brighter on the left, class 1 on the right.

    ``shift`` adds a constant to every pixel (a crude 'domain').
    """
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = 0.3 + 0.15 * torch.rand(n, 3, 8, 8, generator=g)
    x[y == 0, :, :, :4] += 0.3
    x[y == 1, :, :, 4:] += 0.3
    return (x + shift).clamp(0, 1), y


@functools.cache
def _trained_state() -> dict:
    torch.manual_seed(0)
    model = Classifier("small_cnn", num_classes=2)
    x, y = toy_images(128, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(40):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model.state_dict()


def trained_classifier() -> Classifier:
    """A small_cnn trained on ``toy_images`` (a fresh copy per call; eval mode)."""
    model = Classifier("small_cnn", num_classes=2)
    model.load_state_dict(_trained_state())
    return model.eval()


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())
