from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dda.core.errors import InvalidInput, NotFound
from dda.core.settings import get_settings
from dda.ml.backbones import BACKBONES, MobileNetV2, create_backbone, load_torchvision_state_dict
from dda.ml.weights import find_pretrained_weights, load_pretrained_state_dict, verify_weights


@pytest.mark.parametrize("arch", sorted(BACKBONES))
def test_feature_pyramid_strides_and_channels(arch: str) -> None:
    model = BACKBONES[arch]().eval()
    feats = model.forward_features(torch.zeros(1, 3, 128, 160))
    assert [f.shape[1] for f in feats] == list(model.stage_channels)
    assert [(f.shape[2], f.shape[3]) for f in feats] == [(32, 40), (16, 20), (8, 10), (4, 5)]


def test_official_mobilenet_weights_load_strictly() -> None:
    """The dev weights package ships the official torchvision checkpoint; every key must match."""
    path = find_pretrained_weights("mobilenet_v2")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = MobileNetV2()
    load_torchvision_state_dict(model, state)
    first_bn = model.features[0][1]
    assert torch.equal(first_bn.running_mean, state["features.0.1.running_mean"])
    assert not torch.allclose(first_bn.running_var, torch.ones_like(first_bn.running_var))


def test_wrong_file_fails_sha256(tmp_path: Path) -> None:
    bogus = tmp_path / "mobilenet_v2-b0353104.pth"
    bogus.write_bytes(b"not weights")
    with pytest.raises(InvalidInput, match="sha256"):
        verify_weights(bogus, "b0353104")


def test_corrupt_file_in_weights_dir_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DDA_WEIGHTS_DIR", str(tmp_path))
    get_settings.cache_clear()
    (tmp_path / "mobilenet_v2-b0353104.pth").write_bytes(b"tampered")
    with pytest.raises(InvalidInput, match="expected"):
        find_pretrained_weights("mobilenet_v2")


def test_missing_weights_warn_and_fall_back_to_random_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(NotFound, match=r"resnet18-f37072fd\.pth"):
        find_pretrained_weights("resnet18")
    with pytest.warns(UserWarning, match="random initialisation"):
        assert load_pretrained_state_dict("resnet18") is None
    with pytest.warns(UserWarning):
        model = create_backbone("resnet18", pretrained=True)
    assert isinstance(model, torch.nn.Module)


def test_unknown_backbone_names_the_choices() -> None:
    with pytest.raises(InvalidInput, match="mobilenet_v2"):
        create_backbone("vgg99")


def test_resnet_state_dicts_have_torchvision_keys_and_round_trip() -> None:
    """ResNet-18/50 and Wide-ResNet-50 in plain torch: a torchvision-style state dict (with its
    ``fc`` classifier) loads strictly, so the official files load once they are present."""
    from dda.ml.backbones import ResNet18, ResNet50, WideResNet50

    source = ResNet18()
    state = {**source.state_dict(), "fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)}
    target = ResNet18()
    load_torchvision_state_dict(target, state)
    assert torch.equal(target.layer4[1].conv2.weight, source.layer4[1].conv2.weight)
    keys = ResNet50().state_dict()
    assert "layer1.0.conv3.weight" in keys and "layer1.0.downsample.1.running_var" in keys
    assert tuple(keys["layer4.2.conv3.weight"].shape) == (2048, 512, 1, 1)
    wide = WideResNet50().state_dict()  # twice the inner width: layer1 blocks are 64 -> 128 -> 256
    assert tuple(wide["layer1.0.conv2.weight"].shape) == (128, 128, 3, 3)


@pytest.mark.parametrize("arch", ["resnet18", "resnet50", "wide_resnet50_2"])
def test_a_wrong_file_named_like_the_official_weights_is_refused(
    arch: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dda.ml.backbones import ResNet18
    from dda.ml.weights import KNOWN_WEIGHTS

    wrong = tmp_path / KNOWN_WEIGHTS[arch][0]
    torch.save(ResNet18().state_dict(), wrong)  # a real checkpoint, just not the official one
    monkeypatch.setenv("DDA_BACKBONE_WEIGHTS", f"{arch}={wrong}")  # located by path
    with pytest.raises(InvalidInput, match="sha256"):
        find_pretrained_weights(arch)
    monkeypatch.delenv("DDA_BACKBONE_WEIGHTS")
    monkeypatch.setenv("DDA_WEIGHTS_DIR", str(tmp_path))  # located in the weights cache
    get_settings.cache_clear()
    with pytest.raises(InvalidInput, match="sha256"):
        find_pretrained_weights(arch)
    get_settings.cache_clear()
