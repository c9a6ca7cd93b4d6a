"""Learning algorithms, a flat registry in the spirit of DomainBed's algorithms.py.

Each algorithm takes one minibatch per training domain per step; which images those
minibatches hold (real, synthetic) is the method's business (``cdga.core.methods``). Its
hyperparameters and their random distributions are declared, torch-free, in
``cdga.core.hparams.ALGORITHM_HPARAMS`` under the same name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Minibatches = Sequence[tuple[torch.Tensor, torch.Tensor]]


class Algorithm(nn.Module):
    """A network with ``update(minibatches)`` (one optimiser step) and ``predict(x)``."""

    def __init__(self, network: nn.Module, hparams: Mapping) -> None:
        super().__init__()
        self.network = network
        self.hparams = dict(hparams)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=hparams["lr"],
                                          weight_decay=hparams["weight_decay"])
        self.train()

    def train(self, mode: bool = True) -> Algorithm:
        """nn.Module.train; with hparam ``freeze_bn`` every BatchNorm stays in eval mode
        (running statistics fixed, affine parameters still learnt), as in DomainBed's ResNet."""
        super().train(mode)
        if self.hparams["freeze_bn"]:
            for module in self.network.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def loss(self, minibatches: Minibatches, rng: np.random.Generator) -> torch.Tensor:
        raise NotImplementedError

    def update(self, minibatches: Minibatches, rng: np.random.Generator,
               scaler: torch.amp.GradScaler | None = None,
               autocast: torch.autocast | None = None) -> float:
        """One optimiser step on the per-domain minibatches; returns the loss value."""
        self.optimizer.zero_grad(set_to_none=True)
        if autocast is not None:
            with autocast:
                loss = self.loss(minibatches, rng)
        else:
            loss = self.loss(minibatches, rng)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(self.optimizer)
            scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        return float(loss.detach())

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)


class ERM(Algorithm):
    """Empirical risk minimisation over the union of the domains' minibatches."""

    def loss(self, minibatches: Minibatches, rng: np.random.Generator) -> torch.Tensor:
        x = torch.cat([x for x, _ in minibatches])
        y = torch.cat([y for _, y in minibatches])
        return F.cross_entropy(self.predict(x), y)


class MixupWithin(Algorithm):
    """Within-domain Mixup (Zhang et al. 2018), the VRM baseline: each domain's minibatch is
    mixed with a permutation of itself, lambda ~ Beta(alpha, alpha) drawn per domain and step."""

    def loss(self, minibatches: Minibatches, rng: np.random.Generator) -> torch.Tensor:
        alpha = self.hparams["mixup_alpha"]
        total = 0.0
        for x, y in minibatches:
            lam = float(rng.beta(alpha, alpha))
            perm = torch.as_tensor(rng.permutation(len(x)), device=x.device)
            logits = self.predict(lam * x + (1 - lam) * x[perm])
            total = total + lam * F.cross_entropy(logits, y) + (1 - lam) * F.cross_entropy(
                logits, y[perm])
        return total / len(minibatches)


class MixupInter(Algorithm):
    """Inter-domain Mixup, DomainBed's ``Mixup`` (Xu et al. 2020, Yan et al. 2020): the domains
    are put in a random cyclic order and each minibatch is mixed with the next domain's (both
    cut to the shorter length), lambda ~ Beta(alpha, alpha) drawn per pair and step."""

    def loss(self, minibatches: Minibatches, rng: np.random.Generator) -> torch.Tensor:
        alpha = self.hparams["mixup_alpha"]
        order = rng.permutation(len(minibatches))
        total = 0.0
        for i, j in zip(order, np.roll(order, -1), strict=True):
            (xi, yi), (xj, yj) = minibatches[i], minibatches[j]
            n = min(len(xi), len(xj))
            lam = float(rng.beta(alpha, alpha))
            logits = self.predict(lam * xi[:n] + (1 - lam) * xj[:n])
            total = total + lam * F.cross_entropy(logits, yi[:n]) + (1 - lam) * F.cross_entropy(
                logits, yj[:n])
        return total / len(minibatches)


ALGORITHMS: dict[str, type[Algorithm]] = {"ERM": ERM, "MixupWithin": MixupWithin,
                                          "MixupInter": MixupInter}
