"""Learning algorithms, a flat registry in the spirit of DomainBed's algorithms.py.

Each algorithm takes one minibatch per training domain per step; which images those
minibatches hold (real, synthetic) is the method's business (``cdga.methods``).
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


class Mixup(Algorithm):
    """Within-domain Mixup (Zhang et al. 2018): each domain's minibatch is mixed with a
    permutation of itself, weight lambda ~ Beta(alpha, alpha) drawn per domain and step."""

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


ALGORITHMS: dict[str, type[Algorithm]] = {"ERM": ERM, "Mixup": Mixup}
