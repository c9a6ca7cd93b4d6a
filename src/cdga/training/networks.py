"""Backbones and the classifier, DomainBed style: a featurizer followed by a linear head.

Registry ``BACKBONES``: ``small_cnn`` (the demo, trained from scratch, downloads nothing)
and ``resnet50`` (the paper: torchvision ResNet-50 with ImageNet weights from torchvision's
cache, or from a local file for offline clusters).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torchvision.models import ResNet50_Weights, resnet50

from cdga.core.io import save_torch


class WeightsError(RuntimeError):
    """Backbone weights could not be found or loaded; the message says how to provide them."""


def small_cnn(weights: str | None = None) -> tuple[nn.Module, int]:
    """A four-block CNN for small demo images; returns (featurizer, feature dim)."""
    if weights:
        raise WeightsError(f"small_cnn is trained from scratch; got weights {weights!r}")

    def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    layers = block(3, 32, 1) + block(32, 64, 2) + block(64, 128, 2) + block(128, 128, 1)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten()), 128


def resnet50_features(weights: str | None = "IMAGENET1K_V1") -> tuple[nn.Module, int]:
    """torchvision ResNet-50 without its fc layer.

    ``weights`` is ``IMAGENET1K_V1`` (torchvision's cache, downloaded if absent), a path to a
    saved state dict (offline clusters), or None for random initialisation.
    """
    net = resnet50(weights=None)
    if weights == "IMAGENET1K_V1":
        try:
            state = ResNet50_Weights.IMAGENET1K_V1.get_state_dict(progress=False)
        except Exception as exc:
            raise WeightsError(
                "could not load torchvision's IMAGENET1K_V1 ResNet-50 weights "
                f"({type(exc).__name__}: {exc}). On a machine with internet run "
                "`python -c 'from torchvision.models import ResNet50_Weights as W; "
                "W.IMAGENET1K_V1.get_state_dict()'` to fill $TORCH_HOME, or set "
                "training.weights to a local .pth file."
            ) from exc
        net.load_state_dict(state)
    elif weights:
        if not Path(weights).is_file():
            raise WeightsError(
                f"ResNet-50 weights file {weights!r} (training.weights) does not exist"
            )
        net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    net.fc = nn.Identity()
    return net, 2048


BACKBONES: dict[str, Callable[[str | None], tuple[nn.Module, int]]] = {
    "small_cnn": small_cnn,
    "resnet50": resnet50_features,
}


class Classifier(nn.Module):
    """``featurizer`` (penultimate features) followed by a linear ``classifier`` head."""

    def __init__(self, backbone: str, num_classes: int, weights: str | None = None) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise KeyError(f"unknown backbone {backbone!r}; known: {sorted(BACKBONES)}")
        self.spec = {"backbone": backbone, "num_classes": num_classes}
        self.featurizer, dim = BACKBONES[backbone](weights)
        self.classifier = nn.Linear(dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.featurizer(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.featurizer(x))


def save_model(path: str | os.PathLike, model: Classifier, **extra: object) -> None:
    """Atomically save a classifier's spec, weights and any ``extra`` metadata."""
    save_torch(path, {"spec": model.spec, "state_dict": model.state_dict(), **extra})


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Classifier:
    """Rebuild a classifier saved by ``save_model`` (no pretrained weights are fetched)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist")
    blob = torch.load(path, map_location=map_location, weights_only=False)
    model = Classifier(blob["spec"]["backbone"], blob["spec"]["num_classes"], weights=None)
    model.load_state_dict(blob["state_dict"])
    return model
