"""Penultimate features and their t-SNE embedding."""

import numpy as np
import torch
from classifiers import toy_images, trained_classifier

from cdga.analyses.embedding import extract_features, tsne_2d


def test_features_are_the_penultimate_layer() -> None:
    model = trained_classifier()
    x, y = toy_images(20, seed=0)
    feats, labels = extract_features(model, [(x[:7], y[:7]), (x[7:], y[7:])])
    with torch.no_grad():
        torch.testing.assert_close(feats, model.features(x))
    assert torch.equal(labels, y)


def test_tsne_is_seeded_and_keeps_clusters_apart() -> None:
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(size=(40, 16)), rng.normal(size=(40, 16)) + 8])
    a, b = tsne_2d(z, perplexity=10, seed=0), tsne_2d(z, perplexity=10, seed=0)
    assert a.shape == (80, 2)
    np.testing.assert_allclose(a, b)
    gap = np.linalg.norm(a[:40].mean(0) - a[40:].mean(0))
    spread = max(a[:40].std(0).max(), a[40:].std(0).max())
    assert gap > 3 * spread
