"""Transferability (Zhang et al. 2021) and OoD-Bench diversity/correlation shift."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from cdga.analyses.shift import diversity_correlation, probe_rows, transferability


def _domain(n: int, seed: int, offset: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centres = torch.tensor([[2.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 2.0, 0]])
    z = centres[y] + torch.randn(n, 4, generator=g)
    z[:, 3] += offset
    z[:, 0] += offset
    return z, y


def _head() -> nn.Linear:
    head = nn.Linear(4, 3)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]))
        head.bias.zero_()
    return head


def test_transferability_of_a_domain_to_itself_is_zero_and_grows_with_shift() -> None:
    za, ya = _domain(300, 0)
    kw = {"radius": 1.0, "steps": 50, "lr": 0.5}
    itself = transferability(_head(), za, ya, za, ya, **kw)
    assert itself == {"gap_at_head": 0.0, "transfer": pytest.approx(0.0, abs=1e-6)}
    zb, yb = _domain(300, 1)  # same distribution, other samples
    zc, yc = _domain(300, 2, offset=2.0)  # shifted domain
    same = transferability(_head(), za, ya, zb, yb, **kw)
    shifted = transferability(_head(), za, ya, zc, yc, **kw)
    assert same["transfer"] < 0.2
    assert shifted["transfer"] > same["transfer"] + 0.5
    assert shifted["transfer"] >= shifted["gap_at_head"]
    fixed = transferability(_head(), za, ya, zc, yc, radius=0.0, steps=20, lr=0.5)
    assert fixed["transfer"] == pytest.approx(fixed["gap_at_head"], abs=1e-6)


KW = {"n_components": 2, "n_samples": 4000, "eps_div": 1e-6, "eps_cor": 1e-3, "seed": 0}


def _blobs(n: int, seed: int, mean: float, flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2)) + mean
    y = (z[:, 0] > mean).astype(int)
    return z, (1 - y if flip else y)


def test_no_shift_between_samples_of_one_distribution() -> None:
    out = diversity_correlation(*_blobs(400, 0, 0.0), *_blobs(400, 1, 0.0), **KW)
    assert out["diversity"] < 0.1 and out["correlation"] < 0.15


def test_disjoint_supports_are_diversity_shift() -> None:
    out = diversity_correlation(*_blobs(400, 0, 0.0), *_blobs(400, 1, 30.0), **KW)
    assert out["diversity"] > 0.9 and out["correlation"] < 0.05


def test_flipped_labels_on_the_same_features_are_correlation_shift() -> None:
    out = diversity_correlation(*_blobs(400, 0, 0.0), *_blobs(400, 1, 0.0, flip=True), **KW)
    assert out["correlation"] > 0.5 and out["diversity"] < 0.1


def test_too_few_samples_are_named() -> None:
    z, y = _blobs(10, 0, 0.0)
    with pytest.raises(ValueError, match="features q"):
        diversity_correlation(z, y, z[:2], y[:2], **KW)


def test_probes_are_the_training_domains_validation_rows_and_the_test_domain() -> None:
    split = pd.DataFrame([{"path": f"{d}/{k}.png", "domain": d, "class_index": k % 2,
                           "split": "val" if k % 5 == 0 else "train"}
                          for d in ("a", "b", "c") for k in range(50)])
    source, target = probe_rows(split, "c", images=8, seed=0)
    assert set(source["domain"]) == {"a", "b"} and (source["split"] == "val").all()
    assert source.groupby("domain").size().tolist() == [8, 8]
    assert set(target["domain"]) == {"c"} and len(target) == 8
    everything, _ = probe_rows(split, "c", images=1000, seed=0)
    assert len(everything) == 20  # every validation row of a and b, and nothing else
    again, _ = probe_rows(split, "c", images=8, seed=0)
    assert again.equals(source)
