"""LDM loading (cdga.generation.ldm) and the demo LDM's tokenizer, training, checkpoints and resume."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import huggingface_hub
import numpy as np
import pandas as pd
import pytest
import torch
from diffusers import DPMSolverMultistepScheduler
from PIL import Image
from sd_pipeline import save_tiny_pipeline

from cdga.core.schedulers import SCHEDULERS
from cdga.generation import demo_ldm
from cdga.generation.ldm import (
    LDMWeightsError,
    is_local,
    load_pipeline,
    load_weights,
    make_scheduler,
)

TINY = {
    "seed": 0, "resolution": 16, "max_length": 12, "checkpoint_every": 2, "threads": 1,
    "vae": {"block_out_channels": [8, 16], "steps": 3, "batch_size": 4, "lr": 0.002,
            "warmup_steps": 1, "kl_weight": 1e-4},
    "text_encoder": {"hidden_size": 16, "layers": 1, "heads": 2},
    "unet": {"block_out_channels": [16, 16], "cross_attention": [False, True], "layers_per_block": 1,
             "attention_head_dim": 8, "steps": 4, "batch_size": 4, "lr": 0.001, "warmup_steps": 1,
             "ema_decay": 0.9, "caption_dropout": 0.25, "snr_gamma": 5.0},
}


@pytest.fixture(scope="module")
def tiny_pipe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_pipeline(tmp_path_factory.mktemp("ldm") / "pipe")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A captioned pretraining corpus of 8 random 16 px images."""
    rows = []
    for k in range(8):
        domain, name = ("photo", "sketch")[k % 2], ("one", "two")[k // 4]
        rel = f"{domain}/{name}/{k}.png"
        (tmp_path / "pre" / domain / name).mkdir(parents=True, exist_ok=True)
        rgb = np.random.default_rng(k).integers(0, 255, (16, 16, 3), dtype=np.uint8)
        Image.fromarray(rgb).save(tmp_path / "pre" / rel)
        rows.append((rel, domain, name, f"{'a photo' if domain == 'photo' else 'a pencil sketch'} of the digit {name}"))
    pd.DataFrame(rows, columns=["file", "domain", "class_name", "caption"]).to_csv(
        tmp_path / "pre" / "captions.csv", index=False)
    return tmp_path / "pre"


def test_local_pipeline_loads_on_cpu_in_float32(tiny_pipe_dir: Path) -> None:
    pipe = load_pipeline(str(tiny_pipe_dir), device="cpu", dtype="float16", scheduler="dpm")
    assert pipe.unet.dtype == torch.float32  # half precision is for GPUs only
    assert pipe.safety_checker is None
    assert isinstance(pipe.scheduler, DPMSolverMultistepScheduler)
    assert pipe.scheduler.config.beta_schedule == "scaled_linear"  # the saved schedule is kept


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_every_offered_scheduler_runs_img2img_one_unet_call_per_step(tiny_pipe_dir: Path, name: str) -> None:
    """strength * steps denoising steps, each one UNet evaluation (a batch of 2 under guidance);
    PNDM's Runge-Kutta warm-up (the demo LDM's saved DDIM config has no skip_prk_steps) takes more."""
    pipe = load_pipeline(str(tiny_pipe_dir), device="cpu", scheduler=name)
    assert type(pipe.scheduler).__name__ == SCHEDULERS[name]
    calls = []
    pipe.unet.register_forward_hook(lambda _m, args, _out: calls.append(len(args[0])))
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8))
    out = pipe(prompt="a photo", image=image, strength=0.7, num_inference_steps=10, guidance_scale=2.0,
               generator=torch.Generator().manual_seed(0), output_type="np").images
    assert set(calls) == {2}
    assert len(calls) > 7 if name == "pndm" else len(calls) == 7
    assert out.shape == (1, 16, 16, 3) and np.isfinite(out).all()


def cached_hub_model(folder: Path, name: str, cache: Path) -> str:
    """``folder`` laid out as hub model ``cdga-test/<name>`` in the Hugging Face cache ``cache``
    (a snapshot and the ref that names it), as ``hf download`` leaves it; its repo id."""
    repo = cache / f"models--cdga-test--{name}"
    shutil.copytree(folder, repo / "snapshots" / ("0" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    return f"cdga-test/{name}"


@pytest.mark.parametrize("where", ["local", "hub"])
def test_half_precision_reads_the_fp16_variant_where_there_is_one(tiny_pipe_dir: Path, tmp_path: Path, where: str,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    both = tmp_path / "both"
    shutil.copytree(tiny_pipe_dir, both)
    edited = load_weights(str(both), torch.float32)
    with torch.no_grad():
        edited.unet.conv_in.weight.add_(1.0)  # tells the variant's weights from the float32 ones
    edited.to(torch.float16).save_pretrained(both, variant="fp16")
    assert (both / "unet" / "diffusion_pytorch_model.fp16.safetensors").is_file()
    with_variant, without = str(both), str(tiny_pipe_dir)
    if where == "hub":  # offline, from the cache: the way cluster jobs read hub models
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))  # read at import
        with_variant = cached_hub_model(both, "both", tmp_path / "hub")
        without = cached_hub_model(tiny_pipe_dir, "plain", tmp_path / "hub")
    full = load_weights(without, torch.float32).unet.conv_in.weight
    with caplog.at_level(logging.INFO, logger="cdga.generation.ldm"):
        read = load_weights(with_variant, torch.float16).unet.conv_in.weight
    assert read.dtype == torch.float16 and torch.equal(read, (full + 1.0).half())
    assert "read its fp16 weight variant" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="cdga.generation.ldm"):
        cast = load_weights(without, torch.float16).unet.conv_in.weight
    assert torch.equal(cast, full.half()) and "no fp16 weight variant" in caplog.text
    for dtype in (torch.float32, torch.bfloat16):  # the variant would round twice: float32 files
        assert torch.equal(load_weights(with_variant, dtype).unet.conv_in.weight, full.to(dtype))


def test_absent_local_directory_says_how_to_provide_weights(tmp_path: Path) -> None:
    with pytest.raises(LDMWeightsError, match="does not exist") as err:
        load_pipeline(str(tmp_path / "no" / "such_model"))
    assert "hf download" in str(err.value) and "ldm.model" in str(err.value)


def test_directory_without_pipeline_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LDMWeightsError, match="no model_index.json"):
        load_pipeline(str(tmp_path))


def test_offline_hub_id_without_cache_says_how_to_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    with pytest.raises(LDMWeightsError) as err:
        load_pipeline("cdga-test/not-cached-model", device="cpu")
    message = str(err.value)
    assert "HF_HUB_OFFLINE" in message
    assert "hf download cdga-test/not-cached-model" in message
    assert "huggingface-cli download cdga-test/not-cached-model" in message


def test_hub_ids_and_paths_are_told_apart() -> None:
    assert not is_local("stable-diffusion-v1-5/stable-diffusion-v1-5")
    assert is_local("results/models/demo_ldm")
    assert is_local("./model") and is_local("/abs/model")


def test_unknown_scheduler_and_dtype_are_errors(tiny_pipe_dir: Path) -> None:
    with pytest.raises(ValueError, match="unknown scheduler 'heun'"):
        make_scheduler("heun", {})
    with pytest.raises(ValueError, match="unknown ldm.dtype 'int8'"):
        load_pipeline(str(tiny_pipe_dir), dtype="int8")


def test_tokenizer_gives_one_token_per_caption_word(tmp_path: Path) -> None:
    captions = ["an oil painting of the digit seven", "a pencil sketch of the digit eight"]
    tok = demo_ldm.build_tokenizer(captions, tmp_path, max_length=12)
    ids = tok(captions[0]).input_ids
    assert tok.convert_ids_to_tokens(ids)[1:-1] == [f"{w}</w>" for w in captions[0].split()]
    assert len(tok("").input_ids) == 2  # start and end: the unconditional caption


def _weights(path: Path) -> dict[str, torch.Tensor]:
    pipe = load_pipeline(str(path), device="cpu")
    return {**{f"unet.{k}": v for k, v in pipe.unet.state_dict().items()},
            **{f"vae.{k}": v for k, v in pipe.vae.state_dict().items()}}


def test_demo_ldm_trains_saves_and_resumes_identically(corpus: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    demo_ldm.train(corpus, tmp_path / "full", TINY, tmp_path / "full_work")
    pipe = load_pipeline(str(tmp_path / "full"), device="cpu")  # the same path generation uses
    words = ["a", "pencil", "sketch", "of", "the", "digit", "two"]
    assert [len(pipe.tokenizer(w, add_special_tokens=False).input_ids) for w in words] == [1] * len(words)
    assert pipe.vae.config.scaling_factor > 0

    real_save = demo_ldm.save_torch

    def save_then_die(path: Path, state: dict) -> None:  # checkpoints are the only torch saves
        real_save(path, state)
        if state.get("phase") == "unet" and state["step"] == 2:
            raise KeyboardInterrupt("killed after the first UNet checkpoint")

    monkeypatch.setattr(demo_ldm, "save_torch", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        demo_ldm.train(corpus, tmp_path / "resumed", TINY, tmp_path / "resumed_work")
    assert not (tmp_path / "resumed").exists()  # nothing half-written in place
    monkeypatch.setattr(demo_ldm, "save_torch", real_save)
    demo_ldm.train(corpus, tmp_path / "resumed", TINY, tmp_path / "resumed_work")
    full, resumed = _weights(tmp_path / "full"), _weights(tmp_path / "resumed")
    assert full.keys() == resumed.keys()
    assert all(torch.equal(full[k], resumed[k]) for k in full)


def test_training_data_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="captions.csv"):
        demo_ldm.train(tmp_path, tmp_path / "out", TINY, tmp_path / "work")
    bad = {**TINY, "unet": {**TINY["unet"], "cross_attention": [True]}}
    with pytest.raises(ValueError, match="one flag per level"):
        demo_ldm.build_unet(bad["unet"], 8, 16)


def test_min_snr_weight_caps_the_easy_timesteps() -> None:
    alphas = torch.tensor([0.99, 5 / 6, 0.5, 0.01])  # SNR 99, 5, 1, ~0.01
    weight = demo_ldm.min_snr_weight(alphas, gamma=5.0)
    torch.testing.assert_close(weight, torch.tensor([5 / 99, 1.0, 1.0, 1.0]))
    assert torch.equal(demo_ldm.min_snr_weight(alphas, None), torch.ones(4))
