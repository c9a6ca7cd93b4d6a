"""Backbone registry, the classifier API, save/load and weight errors."""

from pathlib import Path

import pytest
import torch

from cdga.training.networks import Classifier, WeightsError, load_model, save_model


def test_small_cnn_shapes_and_roundtrip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Classifier("small_cnn", num_classes=10).eval()
    x = torch.randn(4, 3, 32, 32)
    assert model.features(x).shape == (4, 128)
    assert model(x).shape == (4, 10)
    save_model(tmp_path / "m.pt", model, step=7)
    again = load_model(tmp_path / "m.pt").eval()
    torch.testing.assert_close(again(x), model(x))
    assert torch.load(tmp_path / "m.pt", weights_only=False)["step"] == 7
    save_model(tmp_path / "other_name.pt", model, step=7)
    assert (tmp_path / "other_name.pt").read_bytes() == (tmp_path / "m.pt").read_bytes()


def test_resnet50_from_local_weights_file(tmp_path: Path) -> None:
    from torchvision.models import resnet50

    torch.manual_seed(1)
    reference = resnet50(weights=None)
    torch.save(reference.state_dict(), tmp_path / "r50.pth")
    model = Classifier("resnet50", num_classes=3, weights=str(tmp_path / "r50.pth")).eval()
    torch.testing.assert_close(model.featurizer.conv1.weight, reference.conv1.weight)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 3)


def test_weight_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"missing\.pth.*\(training\.weights\) does not exist"):
        Classifier("resnet50", 3, weights=str(tmp_path / "missing.pth"))
    with pytest.raises(KeyError, match="vit_huge"):
        Classifier("vit_huge", 3)
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        load_model(tmp_path / "nothing.pt")
