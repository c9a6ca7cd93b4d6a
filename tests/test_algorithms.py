"""The method registry, its synthetic pairs, and the ERM / Mixup updates."""

import numpy as np
import pytest
import torch

from cdga import algorithms, methods
from cdga.networks import Classifier

DOMAINS = ["photo", "art_painting", "cartoon", "sketch"]


def test_registry_lists_the_study_methods() -> None:
    assert set(methods.METHODS) == {"erm", "cdga_pg", "cdga_ig", "ldm_within", "mixup"}
    assert all(m.algorithm in algorithms.ALGORITHMS for m in methods.METHODS.values())
    with pytest.raises(KeyError, match="known"):
        methods.method("coral")


@pytest.mark.parametrize("test_env", DOMAINS)
def test_synthetic_pairs_never_touch_the_test_domain(test_env: str) -> None:
    train = [d for d in DOMAINS if d != test_env]
    cross = methods.synthetic_pairs("cdga_pg", DOMAINS, test_env)
    assert cross == methods.synthetic_pairs("cdga_ig", DOMAINS, test_env)
    assert len(cross) == 6 and all(i != j for i, j in cross)
    assert {d for pair in cross for d in pair} == set(train)
    assert methods.synthetic_pairs("ldm_within", DOMAINS, test_env) == [(d, d) for d in train]
    assert methods.synthetic_pairs("erm", DOMAINS, test_env) == []
    assert methods.synthetic_pairs("mixup", DOMAINS, test_env) == []


def test_variants_and_skipped_methods() -> None:
    assert methods.variant("cdga_pg", ["pg", "ig"]) == "pg"
    assert methods.variant("ldm_within", ["ig"]) == "ig"  # the dataset's first variant
    assert methods.variant("erm", ["ig"]) is None
    with pytest.raises(ValueError, match="needs variant 'pg'"):
        methods.variant("cdga_pg", ["ig"])
    ig_only = [m for m in methods.METHODS if methods.runs_on(m, ["ig"])]
    assert ig_only == ["erm", "cdga_ig", "ldm_within", "mixup"]
    assert methods.first_runnable(["cdga_pg", "cdga_ig"], ["pg", "ig"]) == "cdga_pg"
    assert methods.first_runnable(["cdga_pg", "cdga_ig"], ["ig"]) == "cdga_ig"
    with pytest.raises(ValueError, match=r"none of the methods \['cdga_pg'\]"):
        methods.first_runnable(["cdga_pg"], ["ig"])


@pytest.mark.parametrize("name", ["ERM", "Mixup"])
def test_updates_fit_a_small_batch(name: str) -> None:
    torch.manual_seed(0)
    hparams = {"lr": 1e-2, "weight_decay": 0.0, "mixup_alpha": 0.2}
    algo = algorithms.ALGORITHMS[name](Classifier("small_cnn", 3), hparams)
    batches = [(torch.randn(6, 3, 8, 8), torch.randint(0, 3, (6,))) for _ in range(2)]
    losses = [algo.update(batches, np.random.default_rng([0, s])) for s in range(30)]
    assert losses[-1] < 0.5 * losses[0]


def test_mixup_mixes_within_each_domain() -> None:
    seen = []

    class Probe(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.detach().clone())
            return self.w.expand(len(x), 2)

    algo = algorithms.Mixup(Probe(), {"lr": 1.0, "weight_decay": 0.0, "mixup_alpha": 0.2})
    a = torch.zeros(4, 1, 2, 2)  # domain A: all zeros
    b = torch.ones(4, 1, 2, 2)   # domain B: all ones
    algo.loss([(a, torch.zeros(4, dtype=torch.long)), (b, torch.ones(4, dtype=torch.long))],
              np.random.default_rng(0))
    # within-domain mixing keeps each domain's images inside that domain's values
    assert torch.equal(seen[0], a) and torch.equal(seen[1], b)
    # and it does mix: distinct images become convex combinations of two of them
    seen.clear()
    c = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    algo.loss([(c, torch.zeros(4, dtype=torch.long))], np.random.default_rng(1))
    mixed = seen[0][:, 0, 0, 0]
    assert not torch.equal(mixed, c[:, 0, 0, 0])
    assert torch.isclose(mixed.sum(), c[:, 0, 0, 0].sum())  # a permutation mix keeps the sum
