"""The method registry, its synthetic pairs, the ERM / Mixup updates and frozen BatchNorm."""

import numpy as np
import pytest
import torch

from cdga.core import methods
from cdga.training import algorithms
from cdga.training.networks import Classifier

DOMAINS = ["photo", "art_painting", "cartoon", "sketch"]


def test_registry_lists_the_study_methods() -> None:
    assert set(methods.METHODS) == {"erm", "cdga_pg", "cdga_ig", "ldm_within", "mixup_within",
                                    "mixup_inter", "cdga_pg_filtered", "cdga_ig_filtered"}
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
    assert methods.synthetic_pairs("mixup_within", DOMAINS, test_env) == []
    assert methods.synthetic_pairs("mixup_inter", DOMAINS, test_env) == []


def test_variants_and_skipped_methods() -> None:
    assert methods.variant("cdga_pg", ["pg", "ig"]) == "pg"
    assert methods.variant("ldm_within", ["ig"]) == "ig"  # the dataset's first variant
    assert methods.variant("erm", ["ig"]) is None
    with pytest.raises(ValueError, match="needs variant 'pg'"):
        methods.variant("cdga_pg", ["ig"])
    ig_only = [m for m in methods.METHODS if methods.runs_on(m, ["ig"])]
    assert ig_only == ["erm", "cdga_ig", "cdga_ig_filtered", "ldm_within", "mixup_within", "mixup_inter"]
    assert methods.first_runnable(["cdga_pg", "cdga_ig"], ["pg", "ig"]) == "cdga_pg"
    assert methods.first_runnable(["cdga_pg", "cdga_ig"], ["ig"]) == "cdga_ig"
    with pytest.raises(ValueError, match=r"none of the methods \['cdga_pg'\]"):
        methods.first_runnable(["cdga_pg"], ["ig"])


HPARAMS = {"lr": 1.0, "weight_decay": 0.0, "mixup_alpha": 0.2, "freeze_bn": False}


@pytest.mark.parametrize("name", ["ERM", "MixupWithin", "MixupInter"])
def test_updates_fit_a_small_batch(name: str) -> None:
    torch.manual_seed(0)
    hparams = HPARAMS | {"lr": 1e-2}
    algo = algorithms.ALGORITHMS[name](Classifier("small_cnn", 3), hparams)
    batches = [(torch.randn(6, 3, 8, 8), torch.randint(0, 3, (6,))) for _ in range(2)]
    losses = [algo.update(batches, np.random.default_rng([0, s])) for s in range(30)]
    assert losses[-1] < 0.5 * losses[0]


class Probe(torch.nn.Module):
    """Constant logits; records every input batch."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(3))
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return self.w.expand(len(x), 3)


def one_hot_domains(sizes: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Minibatch k: ``sizes[k]`` images that are 1 in channel k and 0 elsewhere, labels k."""
    batches = []
    for k, n in enumerate(sizes):
        x = torch.zeros(n, len(sizes), 2, 2)
        x[:, k] = 1.0
        batches.append((x, torch.full((n,), k)))
    return batches


def mixed_domains(x: torch.Tensor) -> set[int]:
    """The domains (channels) present in every image of a mixed batch."""
    present = (x.amax(dim=(2, 3)) > 0).all(dim=0)
    return set(torch.nonzero(present).flatten().tolist())


def test_mixup_within_mixes_images_of_one_domain() -> None:
    probe = Probe()
    algo = algorithms.MixupWithin(probe, HPARAMS)
    batches = one_hot_domains([4, 4, 4])
    algo.loss(batches, np.random.default_rng(0))
    # one forward pass per domain, and every image holds only its own domain's channel
    assert [mixed_domains(x) for x in probe.seen] == [{0}, {1}, {2}]
    assert all(torch.equal(x, b[0]) for x, b in zip(probe.seen, batches, strict=True))
    # and it does mix: distinct images become convex combinations of two of them
    probe.seen.clear()
    c = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    algo.loss([(c, torch.zeros(4, dtype=torch.long))], np.random.default_rng(1))
    mixed = probe.seen[0][:, 0, 0, 0]
    assert not torch.equal(mixed, c[:, 0, 0, 0])
    assert torch.isclose(mixed.sum(), c[:, 0, 0, 0].sum())  # a permutation mix keeps the sum


@pytest.mark.parametrize("seed", range(5))
def test_mixup_inter_mixes_two_different_domains(seed: int) -> None:
    probe = Probe()
    algo = algorithms.MixupInter(probe, HPARAMS)
    algo.loss(one_hot_domains([4, 3, 4]), np.random.default_rng(seed))
    pairs = [mixed_domains(x) for x in probe.seen]
    # one pass per domain, each mixing it with another domain, the domains in one cycle
    assert len(pairs) == 3 and all(len(p) == 2 for p in pairs)
    assert sorted(sorted(p) for p in pairs) == [[0, 1], [0, 2], [1, 2]]
    for x in probe.seen:  # lambda and 1 - lambda add up to one in every pixel
        torch.testing.assert_close(x.sum(dim=1), torch.ones(len(x), 2, 2))
    # pairs that include the 3-image domain are cut to 3 images
    assert sorted(len(x) for x in probe.seen) == [3, 3, 4]


def bn_buffers(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items() if "running" in k}


@pytest.mark.parametrize("freeze", [True, False])
def test_freeze_bn_keeps_running_statistics_through_eval_and_train(freeze: bool) -> None:
    torch.manual_seed(0)
    net = Classifier("small_cnn", 3)
    algo = algorithms.ERM(net, HPARAMS | {"lr": 1e-2, "freeze_bn": freeze})
    before, weights = bn_buffers(net), net.featurizer[1].weight.detach().clone()
    algo.eval()
    algo.train()  # what the evaluator does after every checkpoint
    batches = [(torch.randn(6, 3, 8, 8) + 2, torch.randint(0, 3, (6,))) for _ in range(2)]
    algo.update(batches, np.random.default_rng(0))
    after = bn_buffers(net)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == ([] if freeze else list(before))
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(m.training != freeze for m in bns) and net.classifier.training
    # frozen or not, BatchNorm's affine parameters still learn
    assert not torch.equal(weights, net.featurizer[1].weight)
