"""FGSM and PGD in pixel space on a small trained classifier."""

import itertools

import pytest
import torch
from classifiers import accuracy, toy_images, trained_classifier

from cdga.analyses.adversarial import Normalized, fgsm, pgd, robust_accuracy

EPS = [0.0, 2 / 255, 8 / 255, 32 / 255, 96 / 255]


def _batches(x: torch.Tensor, y: torch.Tensor, size: int = 32) -> list:
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(y), size)]


def test_normalized_wrapper_feeds_normalised_input() -> None:
    model = trained_classifier()
    x, _ = toy_images(8, seed=3)
    wrapped = Normalized(model, mean=[0.5, 0.4, 0.3], std=[0.2, 0.25, 0.3]).eval()
    mean = torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)
    std = torch.tensor([0.2, 0.25, 0.3]).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(wrapped(x), model((x - mean) / std))


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_eps_zero_is_clean_accuracy_and_accuracy_never_rises(attack: str) -> None:
    model = trained_classifier()
    x, y = toy_images(64, seed=1)
    kwargs = {"steps": 5, "step_size": 0.5} if attack == "pgd" else {}
    accs = robust_accuracy(model, _batches(x, y), attack, EPS, **kwargs)
    assert accs[0.0] == accuracy(model, x, y)
    if attack == "pgd":
        values = [accs[e] for e in EPS]
        assert all(a >= b for a, b in itertools.pairwise(values)), values
    assert all(accs[e] <= accs[0.0] for e in EPS)
    assert accs[EPS[-1]] < accs[0.0] - 0.3  # the attack really attacks


def test_perturbations_stay_in_the_ball_and_in_pixel_range() -> None:
    model = trained_classifier()
    x, y = toy_images(16, seed=2)
    eps = 8 / 255
    for adv in (fgsm(model, x, y, eps),
                pgd(model, x, y, eps, steps=3, step_size=0.5,
                    generator=torch.Generator().manual_seed(0))):
        assert (adv - x).abs().max() <= eps + 1e-6
        assert adv.min() >= 0 and adv.max() <= 1
        assert not torch.equal(adv, x)


def test_pgd_is_seeded_and_bad_input_is_named() -> None:
    model = trained_classifier()
    x, y = toy_images(8, seed=4)
    a, b = (pgd(model, x, y, 0.05, 2, 0.5, generator=torch.Generator().manual_seed(7))
            for _ in range(2))
    torch.testing.assert_close(a, b)
    with pytest.raises(KeyError, match="cw"):
        robust_accuracy(model, [(x, y)], "cw", [0.0])
    with pytest.raises(ValueError, match="eps must be >= 0"):
        robust_accuracy(model, [(x, y)], "fgsm", [-0.1])


def test_pgd_accuracy_does_not_depend_on_the_batch_size() -> None:
    """analyses.adversarial.batch_size is an execution setting: each eps draws its random starts
    from its own generator over the images in order, however they are batched."""
    model = trained_classifier()
    x, y = toy_images(64, seed=5)
    kwargs = {"steps": 1, "step_size": 0.25, "seed": 3}
    eps = [32 / 255, 96 / 255, 160 / 255]
    whole = robust_accuracy(model, _batches(x, y, 64), "pgd", eps, **kwargs)
    for size in (5, 13):
        assert robust_accuracy(model, _batches(x, y, size), "pgd", eps, **kwargs) == whole
    assert len(set(whole.values())) > 1  # the budgets differ: the attack bites
