"""Loss landscapes (Li et al. 2018) and sharpness around a trained model.

Directions are filter-normalised Gaussian directions: each filter (slice along a weight's
first dimension) of the random direction is rescaled to the norm of the same filter of
the weights; 1-D parameters (BatchNorm weights/biases, biases) get a zero direction, as in
the paper's ``ignore biasbn`` setting. The model is evaluated in eval mode, so BatchNorm
running statistics stay those of the trained model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Batches = Sequence[tuple[torch.Tensor, torch.Tensor]]
Direction = list[torch.Tensor]


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.requires_grad]


def filter_normalized_direction(model: nn.Module, generator: torch.Generator) -> Direction:
    """A random direction with every filter scaled to the norm of the model's filter."""
    direction = []
    for p in _params(model):
        if p.dim() <= 1:
            direction.append(torch.zeros_like(p))
            continue
        d = torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
        d_norm = d.flatten(1).norm(dim=1).clamp_min(1e-12)
        p_norm = p.detach().flatten(1).norm(dim=1)
        shape = (-1,) + (1,) * (p.dim() - 1)
        direction.append(d * (p_norm / d_norm).view(shape))
    return direction


def mean_loss(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Mean cross-entropy of ``model`` (eval mode) over all samples of ``batches``."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y in batches:
            total += float(F.cross_entropy(model(x), y, reduction="sum"))
            count += len(y)
    if count == 0:
        raise ValueError("mean_loss got no data")
    return total / count


class _Shifted:
    """Context manager: parameters = origin + sum_k coords[k] * directions[k]; restored on exit."""

    def __init__(self, model: nn.Module, directions: Sequence[Direction], coords: Sequence[float]):
        self.params = _params(model)
        self.origin = [p.detach().clone() for p in self.params]
        self.directions, self.coords = directions, coords

    def __enter__(self) -> None:
        with torch.no_grad():
            for i, p in enumerate(self.params):
                p.copy_(self.origin[i])
                for d, c in zip(self.directions, self.coords, strict=True):
                    p.add_(d[i], alpha=float(c))

    def __exit__(self, *exc: object) -> None:
        with torch.no_grad():
            for p, o in zip(self.params, self.origin, strict=True):
                p.copy_(o)


def surface_1d(model: nn.Module, batches: Batches, direction: Direction,
               alphas: Sequence[float]) -> np.ndarray:
    """Loss at ``theta + alpha * direction`` for each alpha."""
    out = []
    for a in alphas:
        with _Shifted(model, [direction], [a]):
            out.append(mean_loss(model, batches))
    return np.asarray(out)


def surface_2d(model: nn.Module, batches: Batches, directions: tuple[Direction, Direction],
               alphas: Sequence[float], betas: Sequence[float]) -> np.ndarray:
    """Loss grid ``[i, j]`` at ``theta + alphas[i] * d1 + betas[j] * d2``."""
    grid = np.empty((len(alphas), len(betas)))
    for i, a in enumerate(alphas):
        for j, b in enumerate(betas):
            with _Shifted(model, list(directions), [a, b]):
                grid[i, j] = mean_loss(model, batches)
    return grid


def radius_sharpness(model: nn.Module, batches: Batches, directions: Sequence[Direction],
                     radius: float) -> float:
    """Mean loss increase at ``+-radius`` along each filter-normalised direction."""
    centre = mean_loss(model, batches)
    rises = [surface_1d(model, batches, d, [-radius, radius]).mean() - centre for d in directions]
    return float(np.mean(rises))


def power_iteration(hvp: Callable[[list[torch.Tensor]], list[torch.Tensor]],
                    start: list[torch.Tensor], iters: int, tol: float = 1e-4) -> float:
    """Dominant eigenvalue of the symmetric operator ``hvp`` by power iteration.

    Stops after ``iters`` products or when the Rayleigh quotient changes by less than
    ``tol`` relative.
    """
    def norm(v: list[torch.Tensor]) -> torch.Tensor:
        return torch.sqrt(sum((t * t).sum() for t in v))

    v = [t / norm(start) for t in start]
    eig = 0.0
    for _ in range(iters):
        hv = hvp(v)
        new = float(sum((a * b).sum() for a, b in zip(v, hv, strict=True)))
        n = norm(hv)
        if n == 0:
            return 0.0
        v = [t / n for t in hv]
        if abs(new - eig) <= tol * max(abs(new), 1e-12):
            return new
        eig = new
    return eig


def hessian_top_eigenvalue(model: nn.Module, batches: Batches, iters: int,
                           generator: torch.Generator, tol: float = 1e-4) -> float:
    """Top Hessian eigenvalue of the mean loss over ``batches`` (Hessian-vector products)."""
    model.eval()
    params = _params(model)
    count = sum(len(y) for _, y in batches)

    def hvp(v: list[torch.Tensor]) -> list[torch.Tensor]:
        out = [torch.zeros_like(p) for p in params]
        for x, y in batches:
            loss = F.cross_entropy(model(x), y, reduction="sum") / count
            grads = torch.autograd.grad(loss, params, create_graph=True)
            dot = sum((g * t).sum() for g, t in zip(grads, v, strict=True))
            for o, h in zip(out, torch.autograd.grad(dot, params), strict=True):
                o.add_(h.detach())
        return out

    start = [torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device) for p in params]
    return power_iteration(hvp, start, iters, tol)


def analyse(model: nn.Module, probes: Mapping[str, Batches],
            settings: Mapping) -> tuple[list[dict], list[dict]]:
    """Surfaces and sharpness of ``model`` on each named probe set.

    ``settings`` is config ``analyses.landscape`` (span, points_1d, points_2d, radius,
    radius_directions, power_iters, seed). The same directions serve every probe set.
    Returns (surface rows: data, kind, alpha, beta, loss; summary rows: data, loss,
    hessian_top_eig, radius_sharpness).
    """
    g = torch.Generator().manual_seed(settings["seed"])
    d1, d2 = (filter_normalized_direction(model, g) for _ in range(2))
    extra = [filter_normalized_direction(model, g) for _ in range(settings["radius_directions"])]
    span = settings["span"]
    line = np.linspace(-span, span, settings["points_1d"])
    square = np.linspace(-span, span, settings["points_2d"])
    surfaces, summary = [], []
    for name, batches in probes.items():
        curve = surface_1d(model, batches, d1, line)
        surfaces += [{"data": name, "kind": "1d", "alpha": a, "beta": 0.0, "loss": v}
                     for a, v in zip(line, curve, strict=True)]
        grid = surface_2d(model, batches, (d1, d2), square, square)
        surfaces += [{"data": name, "kind": "2d", "alpha": a, "beta": b, "loss": grid[i, j]}
                     for i, a in enumerate(square) for j, b in enumerate(square)]
        eig = hessian_top_eigenvalue(model, batches, settings["power_iters"],
                                     torch.Generator().manual_seed(settings["seed"]))
        summary.append({"data": name, "loss": mean_loss(model, batches), "hessian_top_eig": eig,
                        "radius": settings["radius"],
                        "radius_sharpness": radius_sharpness(model, batches, extra,
                                                             settings["radius"])})
    return surfaces, summary
