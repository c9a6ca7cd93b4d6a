"""Penultimate features of a classifier and their 2-D t-SNE embedding."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import torch
from sklearn.manifold import TSNE
from torch import nn

from cdga.analyses import probe


def extract_features(model: nn.Module,
                     batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features (``model.features``) and labels of every sample (eval mode)."""
    model.eval()
    feats, labels = [], []
    with torch.no_grad():
        for x, y in batches:
            feats.append(model.features(x))
            labels.append(y)
    if not feats:
        raise ValueError("extract_features got no data")
    return torch.cat(feats), torch.cat(labels)


def tsne_2d(features: np.ndarray, perplexity: float, seed: int) -> np.ndarray:
    """scikit-learn t-SNE of ``features`` to 2-D (PCA init, perplexity capped below n)."""
    n = len(features)
    if n < 3:
        raise ValueError(f"t-SNE needs at least 3 samples, got {n}")
    tsne = TSNE(n_components=2, perplexity=min(perplexity, (n - 1) / 3), init="pca",
                random_state=seed)
    return tsne.fit_transform(np.asarray(features, dtype=np.float32))


def tsne_points(model: nn.Module, real: pd.DataFrame, synthetic: pd.DataFrame, test_env: str,
                resolution: int, batch_size: int, perplexity: float, seed: int,
                device: torch.device | str = "cpu") -> pd.DataFrame:
    """t-SNE coordinates of real images (group = domain) and synthetic ones (group = pair).

    ``model`` takes [0, 1] pixels (``probe.pixel_model``) and runs on ``device``, where the
    images are loaded; ``real`` are split-table rows,
    ``synthetic`` assembly-manifest rows with ``source_domain`` and ``target_domain``.
    Returns columns x, y, origin, group, is_test, class_index, path.
    """
    real = real.assign(origin="real", group=real["domain"], is_test=real["domain"] == test_env)
    synthetic = synthetic.assign(
        origin="synthetic", is_test=False,
        group=synthetic["source_domain"] + " -> " + synthetic["target_domain"])
    rows = pd.concat([real, synthetic], ignore_index=True)
    feats, _ = extract_features(model, probe.load(rows, resolution, batch_size, device))
    xy = tsne_2d(feats.cpu().numpy(), perplexity, seed)
    out = rows[["origin", "group", "is_test", "class_index", "path"]].copy()
    out.insert(0, "y", xy[:, 1])
    out.insert(0, "x", xy[:, 0])
    return out
