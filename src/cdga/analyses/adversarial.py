"""Adversarial robustness: FGSM and L-inf PGD in input pixel space [0, 1].

Attacks perturb the un-normalised image; the model sees it through ``Normalized``, so
``eps`` is in pixel units (e.g. 8/255). A short implementation of our own: torchattacks
pins ``requests==2.25.*``, which would downgrade the hub clients diffusers needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn


class Normalized(nn.Module):
    """``model`` preceded by per-channel normalisation, so it takes images in [0, 1]."""

    def __init__(self, model: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The wrapped classifier's penultimate features of pixel input ``x``."""
        return self.model.features(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self.normalize(x))


def _input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """One signed-gradient step of size ``eps`` (Goodfellow et al. 2015), clipped to [0, 1]."""
    if eps == 0:
        return x.detach().clone()
    return (x + eps * _input_gradient(model, x, y).sign()).clamp(0, 1).detach()


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps: float,
    steps: int,
    step_size: float,
    random_start: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """L-inf projected gradient ascent on the loss (Madry et al. 2018).

    ``step_size`` is relative to ``eps`` (alpha = step_size * eps), so one setting serves
    every radius. The start is uniform in the eps-ball when ``random_start``.
    """
    if eps == 0:
        return x.detach().clone()
    alpha = step_size * eps
    adv = x.detach().clone()
    if random_start:
        noise = torch.rand(x.shape, generator=generator).to(x.device) * 2 - 1  # CPU generator
        adv = (adv + eps * noise).clamp(0, 1)
    for _ in range(steps):
        adv = adv + alpha * _input_gradient(model, adv, y).sign()
        adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 1).detach()
    return adv


Attack = Callable[..., torch.Tensor]
ATTACKS: dict[str, Attack] = {"fgsm": fgsm, "pgd": pgd}


def robust_accuracy(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    attack: str,
    eps_list: Sequence[float],
    seed: int = 0,
    **attack_kwargs: object,
) -> dict[float, float]:
    """Accuracy of ``model`` (eval mode, input in [0, 1]) under ``attack`` at every eps.

    Returns ``{eps: accuracy}``; the attack at each eps starts from the clean batch. PGD's
    random starts come from one generator per eps, seeded by ``seed`` and drawn over the batches
    in order, so the result does not depend on how the images are cut into batches.
    """
    if attack not in ATTACKS:
        raise KeyError(f"unknown attack {attack!r}; known: {sorted(ATTACKS)}")
    if any(e < 0 for e in eps_list):
        raise ValueError(f"eps must be >= 0, got {list(eps_list)}")
    model.eval()
    batches = list(batches)
    total = sum(len(y) for _, y in batches)
    if total == 0:
        raise ValueError("robust_accuracy got no data")
    accuracy = {}
    for eps in eps_list:
        extra = dict(attack_kwargs)
        if attack == "pgd":
            extra["generator"] = torch.Generator().manual_seed(seed)
        correct = 0
        for x, y in batches:
            adv = ATTACKS[attack](model, x, y, eps, **extra)
            with torch.no_grad():
                correct += int((model(adv).argmax(1) == y).sum())
        accuracy[eps] = correct / total
    return accuracy


def evaluate(model: nn.Module, batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
             settings: Mapping) -> list[dict]:
    """Rows (attack, eps, acc) for every attack and eps of ``settings``
    (config ``analyses.adversarial``: attacks, eps_255, pgd_steps, pgd_step_size, seed)."""
    eps_list = [e / 255 for e in settings["eps_255"]]
    rows = []
    for attack in settings["attacks"]:
        extra = ({"steps": settings["pgd_steps"], "step_size": settings["pgd_step_size"]}
                 if attack == "pgd" else {})
        accs = robust_accuracy(model, batches, attack, eps_list, seed=settings["seed"], **extra)
        rows += [{"attack": attack, "eps": eps, "acc": acc} for eps, acc in accs.items()]
    return rows
