"""Loss surfaces along filter-normalised directions, and Hessian sharpness."""

import numpy as np
import torch
import torch.nn.functional as F
from classifiers import toy_images, trained_classifier
from torch import nn

from cdga.analyses.landscape import (
    filter_normalized_direction,
    hessian_top_eigenvalue,
    mean_loss,
    power_iteration,
    radius_sharpness,
    surface_1d,
    surface_2d,
)


def test_filter_normalisation_matches_filter_norms_and_zeroes_bn_and_bias() -> None:
    model = trained_classifier()
    direction = filter_normalized_direction(model, torch.Generator().manual_seed(0))
    params = [p for p in model.parameters()]
    assert len(direction) == len(params)
    for p, d in zip(params, direction):
        if p.dim() <= 1:
            assert torch.count_nonzero(d) == 0
        else:
            torch.testing.assert_close(d.flatten(1).norm(dim=1), p.detach().flatten(1).norm(dim=1))
            assert not torch.allclose(d, p)


def test_centre_of_the_surfaces_is_the_models_loss_and_weights_are_restored() -> None:
    model = trained_classifier()
    x, y = toy_images(48, seed=5)
    batches = [(x[:20], y[:20]), (x[20:], y[20:])]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        direct = float(F.cross_entropy(model(x), y))
    g = torch.Generator().manual_seed(1)
    d1, d2 = (filter_normalized_direction(model, g) for _ in range(2))
    alphas = np.linspace(-1, 1, 5)
    curve = surface_1d(model, batches, d1, alphas)
    grid = surface_2d(model, batches, (d1, d2), alphas, alphas)
    assert np.isclose(mean_loss(model, batches), direct, rtol=1e-5)
    assert np.isclose(curve[2], direct, rtol=1e-5) and np.isclose(grid[2, 2], direct, rtol=1e-5)
    np.testing.assert_allclose(grid[:, 2], curve, rtol=1e-5)  # beta = 0 column is the 1-D curve
    assert curve[0] > direct and curve[-1] > direct  # a trained model sits in a basin
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])
    assert radius_sharpness(model, batches, [d1, d2], 0.5) > 0


def test_power_iteration_matches_eigvalsh_on_a_quadratic() -> None:
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(12, 12, generator=g, dtype=torch.float64))
    a = q @ torch.diag(torch.linspace(0.1, 5.0, 12, dtype=torch.float64)) @ q.T
    x = torch.zeros(12, dtype=torch.float64, requires_grad=True)

    def hvp(v: list[torch.Tensor]) -> list[torch.Tensor]:  # Hessian of 0.5 x^T A x, by autograd
        (grad,) = torch.autograd.grad(0.5 * x @ a @ x, x, create_graph=True)
        return list(torch.autograd.grad(grad @ v[0], x))

    start = [torch.randn(12, generator=g, dtype=torch.float64)]
    top = power_iteration(hvp, start, iters=500, tol=1e-10)
    assert np.isclose(top, float(torch.linalg.eigvalsh(a).max()), rtol=1e-4)


def test_hessian_top_eigenvalue_of_a_linear_classifier_matches_the_full_hessian() -> None:
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x, y = torch.randn(30, 4), torch.randint(0, 3, (30,))
    batches = [(x[:10], y[:10]), (x[10:], y[10:])]
    w, b = model.weight.detach(), model.bias.detach()

    def loss(flat: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(x @ flat[:12].view(3, 4).T + flat[12:], y)

    full = torch.autograd.functional.hessian(loss, torch.cat([w.flatten(), b]))
    top = hessian_top_eigenvalue(model, batches, iters=300, generator=torch.Generator().manual_seed(0),
                                 tol=1e-8)
    assert np.isclose(top, float(torch.linalg.eigvalsh(full).max()), rtol=1e-3)
