"""Domain-shift measures on penultimate features.

* ``transferability``: Zhang et al. 2021 (arXiv 2106.03632) measure the transfer from
  domain A to B as the largest loss gap ``L_B(h') - L_A(h')`` over linear heads h' within a
  ball of radius ``radius`` (Frobenius norm of weight and bias) around the trained head h.
  We search it by projected gradient ascent from h.
* ``diversity_correlation``: OoD-Bench's (Ye et al. 2022) diversity and correlation shift
  between feature distributions p and q, with their estimator: Gaussian KDEs of p, q and
  the class-conditionals, integrated by importance sampling from a KDE of the pooled
  features. OoD-Bench extracts features with a network trained for the purpose; we use
  the trained classifier's features, standardised and reduced by PCA to a few components
  so that the KDE is well posed on a few hundred samples.

Direction and images (``probe_rows``): from the training domains, pooled, to the test domain.
The training domains are probed on their validation split, images the model was not fitted
on (Zhang et al.'s code likewise reports its measure on held-out splits, ``out_only``); the
test domain, never trained on, on all its images.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.stats import gaussian_kde
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from torch import nn

from cdga.analyses import probe


def probe_rows(split: pd.DataFrame, test_env: str, images: int, seed: int
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded (source, target) samples of the split table, at most ``images`` per domain:
    the training domains' validation rows and the test domain's rows of both splits."""
    train_envs = sorted(set(split["domain"]) - {test_env})
    source = probe.sample(probe.real_rows(split, train_envs, "val"), images, seed)
    target = probe.sample(probe.real_rows(split, [test_env], None), images, seed)
    return source, target


def transferability(
    head: nn.Linear,
    features_a: torch.Tensor,
    labels_a: torch.Tensor,
    features_b: torch.Tensor,
    labels_b: torch.Tensor,
    radius: float,
    steps: int,
    lr: float,
) -> dict[str, float]:
    """Largest ``loss_b - loss_a`` over heads within ``radius`` of ``head``.

    Returns the gap at the trained head (``gap_at_head``) and the supremum found
    (``transfer``, never below ``gap_at_head`` since the search starts at the head).
    """
    w0 = torch.cat([head.weight.detach(), head.bias.detach()[:, None]], dim=1)
    xa = torch.cat([features_a, features_a.new_ones(len(features_a), 1)], dim=1)
    xb = torch.cat([features_b, features_b.new_ones(len(features_b), 1)], dim=1)

    def gap(w: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(xb @ w.T, labels_b) - F.cross_entropy(xa @ w.T, labels_a)

    with torch.no_grad():
        at_head = float(gap(w0))
    best = at_head
    w = w0.clone().requires_grad_(True)
    for _ in range(steps):
        (grad,) = torch.autograd.grad(gap(w), w)
        with torch.no_grad():
            w += lr * grad
            delta = w - w0
            norm = float(delta.norm())
            if norm > radius:
                w.copy_(w0 + delta * (radius / norm))
            best = max(best, float(gap(w)))
    return {"gap_at_head": at_head, "transfer": best}


def _reduce(z_p: np.ndarray, z_q: np.ndarray, n_components: int,
            seed: int) -> tuple[np.ndarray, np.ndarray]:
    pooled = np.concatenate([z_p, z_q])
    scaled = StandardScaler().fit(pooled)
    k = min(n_components, pooled.shape[1], len(pooled) - 1)
    pca = PCA(n_components=k, random_state=seed).fit(scaled.transform(pooled))
    after = StandardScaler().fit(pca.transform(scaled.transform(pooled)))
    return tuple(after.transform(pca.transform(scaled.transform(z))) for z in (z_p, z_q))


def diversity_correlation(
    z_p: np.ndarray,
    y_p: np.ndarray,
    z_q: np.ndarray,
    y_q: np.ndarray,
    n_components: int,
    n_samples: int,
    eps_div: float,
    eps_cor: float,
    seed: int,
) -> dict[str, float]:
    """OoD-Bench diversity and correlation shift between (z_p, y_p) and (z_q, y_q).

    Both lie in [0, 1] (up to Monte-Carlo error): diversity is half the L1 mass of p - q off
    their common support ({p < eps_div} or {q < eps_div}); correlation is
    1/2 * integral of sqrt(p q) * sum_y |p(y|z) - q(y|z)| on it ({p > eps_cor} and
    {q > eps_cor}), with p(y|z) = p(z|y) p(y) / p(z) from class-conditional KDEs. Classes
    with too few samples for a KDE in the reduced space are left out.
    """
    for name, z, y in (("p", z_p, y_p), ("q", z_q, y_q)):
        if len(z) != len(y) or len(z) < 3:
            raise ValueError(f"features {name}: need >= 3 rows matching the labels, got "
                             f"{len(z)} features and {len(y)} labels")
    z_p, z_q = _reduce(np.asarray(z_p, float), np.asarray(z_q, float), n_components, seed)
    pooled = gaussian_kde(np.concatenate([z_p, z_q]).T)
    points = pooled.resample(n_samples, seed=seed)
    proposal = pooled(points)
    p, q = gaussian_kde(z_p.T)(points), gaussian_kde(z_q.T)(points)

    off = (p < eps_div) | (q < eps_div)
    diversity = float(np.sum(np.abs(p - q)[off] / proposal[off]) / (2 * n_samples))

    on = (p > eps_cor) & (q > eps_cor)
    values = []
    for label in np.intersect1d(y_p, y_q):
        zp_y, zq_y = z_p[y_p == label], z_q[y_q == label]
        if min(len(zp_y), len(zq_y)) <= z_p.shape[1]:
            continue  # too few samples for a non-singular class-conditional KDE
        p_y = gaussian_kde(zp_y.T)(points[:, on])
        q_y = gaussian_kde(zq_y.T)(points[:, on])
        pr_p, pr_q = np.mean(y_p == label), np.mean(y_q == label)
        ratio = np.sqrt(q[on] / p[on])
        integrand = np.abs(pr_p * p_y * ratio - pr_q * q_y / ratio)
        values.append(np.sum(integrand / proposal[on]) / (2 * n_samples))
    if not values:
        raise ValueError("correlation shift: no class has more than n_components = "
                         f"{z_p.shape[1]} samples in both domains; raise analyses.shift.images "
                         "or lower analyses.shift.pca_components")
    return {"diversity": diversity, "correlation": float(np.sum(values))}


def measure(classifier: nn.Module, source: tuple[torch.Tensor, torch.Tensor],
            target: tuple[torch.Tensor, torch.Tensor], settings: Mapping) -> dict[str, float]:
    """Transferability and diversity/correlation shift from ``source`` to ``target`` features.

    ``classifier`` has the linear ``classifier`` head; ``source``/``target`` are
    (features, labels) on the classifier's device, where the head search runs; the density
    estimates run on the CPU. ``settings`` is config ``analyses.shift``.
    """
    (za, ya), (zb, yb) = source, target
    out = transferability(classifier.classifier, za, ya, zb, yb, settings["radius"],
                          settings["steps"], settings["lr"])
    za, ya, zb, yb = (t.cpu() for t in (za, ya, zb, yb))
    out |= diversity_correlation(za.numpy(), ya.numpy(), zb.numpy(), yb.numpy(),
                                 settings["pca_components"], settings["kde_samples"],
                                 settings["eps_div"], settings["eps_cor"], settings["seed"])
    return out
