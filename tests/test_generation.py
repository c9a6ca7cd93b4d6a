"""CDGA generation: prompts, seeds, plans, shard/batch independence, manifests and resume."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sd_pipeline import SETTINGS, save_tiny_pipeline
from toy_dataset import tiny_split_table

from cdga.core import methods
from cdga.data.shards import IMAGE_FORMATS, TarShard, image_bytes, png_bytes
from cdga.generation import accel
from cdga.generation import generate as gen
from cdga.generation.ldm import load_pipeline

CONFIG = {
    "steps": 4, "scheduler": "ddim", "resolution": 16, "seed": 0, "batch_size": 4,
    "pg": {"strength": 0.8, "guidance_scale": 3.0},
    "ig": {"strength": 0.7, "guidance_scale": 2.0, "lam": [0.3, 0.7], "mix_space": "latent"},
}


@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory):
    return load_pipeline(str(save_tiny_pipeline(tmp_path_factory.mktemp("gen") / "pipe")), device="cpu")


@pytest.fixture
def table(tmp_path: Path) -> pd.DataFrame:
    return tiny_split_table(tmp_path, per_class=4)


def params(variant: str, **change: object) -> gen.GenerationParams:
    """The variant's params from CONFIG with ``change``d values (its own options included)."""
    base = gen.GenerationParams.from_config(CONFIG, variant)
    options = {k: change.pop(k) for k in list(change) if k in base.options}
    return replace(base, **change, options={**base.options, **options})


def plan(table: pd.DataFrame, variant: str, shard: int = 0, shards: int = 1, **change: object) -> pd.DataFrame:
    return gen.plan_shard(table, "Tiny", SETTINGS, params(variant, **change), "photo", "sketch", 0, shard, shards)


def images(tar: Path) -> dict[str, np.ndarray]:
    shard = TarShard(tar)
    return {n: np.asarray(shard.image(n)).astype(int) for n in shard.names()}


# ---------------------------------------------------------------- prompts and bad input
def test_prompts_fill_the_dataset_templates() -> None:
    assert gen.make_prompt(SETTINGS, "pg", "sketch", "two") == "a pencil sketch of the digit two"
    assert gen.make_prompt(SETTINGS, "ig", "sketch", "two") == "the digit two"
    assert gen.make_prompt(SETTINGS, "ig", "sketch", "Alarm_Clock") == "the digit Alarm Clock"


def test_unknown_placeholder_is_an_error() -> None:
    bad = {**SETTINGS, "prompt_template": "{domain} of a {label}"}
    with pytest.raises(ValueError, match=r"unknown placeholder\(s\) \['label'\]"):
        gen.make_prompt(bad, "pg", "sketch", "two")
    with pytest.raises(ValueError, match=r"unknown placeholder\(s\) \['domain'\]"):
        gen.make_prompt({**SETTINGS, "class_prompt_template": "{domain} {class_name}"}, "ig", "sketch", "two")


def test_pg_without_a_domain_description_is_an_error() -> None:
    with pytest.raises(ValueError, match="domain 'cartoon' has no text description"):
        gen.make_prompt(SETTINGS, "pg", "cartoon", "two")


@pytest.mark.parametrize(("change", "message"), [
    ({"strength": 0.0}, r"strength 0.0 is outside \(0, 1\]"),
    ({"strength": 1.2}, r"strength 1.2 is outside \(0, 1\]"),
    ({"scheduler": "heun"}, "unknown scheduler 'heun'"),
    ({"mix_space": "fourier"}, "unknown IG mix_space 'fourier'"),
    ({"lam": (0.8, 0.2)}, "IG lam"),
    ({"image_format": "gif"}, "unknown generation.image_format 'gif'"),
    ({"image_format": "jpeg"}, "image_quality None must be 1-100"),
    ({"image_format": "webp", "image_quality": 0}, "image_quality 0 must be 1-100"),
    ({"image_quality": 90}, "None for PNG"),
])
def test_bad_generation_values_are_errors(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        params("ig", **change)


def test_storage_keys_enter_the_params_for_lossy_formats_only() -> None:
    png = gen.GenerationParams.from_config({**CONFIG, "image_format": "png", "image_quality": 50}, "pg")
    assert (png.image_format, png.image_quality) == ("png", None)
    assert png == gen.GenerationParams.from_config(CONFIG, "pg")
    jpeg = gen.GenerationParams.from_config({**CONFIG, "image_format": "jpeg", "image_quality": 50}, "pg")
    assert (jpeg.image_format, jpeg.image_quality) == ("jpeg", 50)


def test_fixed_lam_is_accepted() -> None:
    fixed = gen.GenerationParams.from_config({**CONFIG, "ig": {**CONFIG["ig"], "lam": 0.5}}, "ig")
    assert fixed.options["lam"] == (0.5, 0.5)


# ---------------------------------------------------------------- pairs, seeds, plans
def test_pairs_are_all_ordered_pairs_plus_within_pairs_of_the_first_variant() -> None:
    every = ["erm", "cdga_pg", "cdga_ig", "ldm_within"]
    fams = methods.generation_pairs(every, ("a", "b", "c", "d"), ["pg", "ig"], list("abcd"))
    assert len(fams) == 2 * 12 + 4
    assert {f for f in fams if f[1] == f[2]} == {("pg", d, d) for d in "abcd"}
    assert len(set(fams)) == len(fams)
    assert fams[:3] == [("pg", "a", "b"), ("pg", "a", "c"), ("pg", "a", "d")]


def test_only_the_pairs_a_training_run_reads_are_generated() -> None:
    """One held-out domain: pairs touching it feed no run; no ldm_within: no within pairs."""
    fams = methods.generation_pairs(["erm", "cdga_ig"], ("a", "b", "c", "d"), ["pg", "ig"], ["d"])
    assert fams == [("ig", s, t) for s in "abc" for t in "abc" if s != t]
    assert methods.generation_pairs(["erm"], ("a", "b"), ["pg"], ["a", "b"]) == []
    ig_only = methods.generation_pairs(["cdga_pg", "ldm_within"], ("a", "b", "c"), ["ig"], ["a"])
    assert ig_only == [("ig", "b", "b"), ("ig", "c", "c")]


def test_stable_seed_is_a_sha256_of_the_parts_not_pythons_hash() -> None:
    parts = (0, "pg", "photo/one/1.png", "sketch", 3)
    digest = hashlib.sha256(b"0|pg|photo/one/1.png|sketch|3").digest()
    assert gen.stable_seed(*parts) == int.from_bytes(digest[:8], "big") & (2**63 - 1)
    assert gen.stable_seed(0, "pg", "x", "sketch", 0) != gen.stable_seed(0, "pg", "x", "sketch", 1)


def test_seeds_name_the_image_not_the_data_root(tmp_path: Path, table: pd.DataFrame) -> None:
    moved = table.assign(path=[p.replace(str(tmp_path), "/elsewhere") for p in table["path"]])
    assert list(plan(table, "pg")["seed"]) == list(plan(moved, "pg")["seed"])


def test_shards_partition_the_training_images_of_the_source(table: pd.DataFrame) -> None:
    whole = plan(table, "pg")
    parts = pd.concat([plan(table, "pg", shard=k, shards=3) for k in range(3)], ignore_index=True)
    assert whole.equals(parts)
    train_src = table[(table["split"] == "train") & (table["domain"] == "photo")]
    assert sorted(whole["source_path"]) == sorted(train_src["path"])
    assert whole["seed"].is_unique
    with pytest.raises(ValueError, match="shard 3 is outside 0..2"):
        plan(table, "pg", shard=3, shards=3)


def test_ig_guides_are_same_class_training_images_of_the_target(table: pd.DataFrame) -> None:
    rows = plan(table, "ig")
    info = table.set_index("path")
    guides = info.loc[rows["guide_path"]]
    assert (guides["domain"] == "sketch").all() and (guides["split"] == "train").all()
    assert (guides["class_index"].to_numpy() == rows["class_index"].to_numpy()).all()
    assert rows["lam"].between(0.3, 0.7).all() and rows["lam"].nunique() == len(rows)
    assert set(rows["prompt"]) == {"the digit one", "the digit two"}
    assert plan(table, "ig")[["guide_path", "lam"]].equals(rows[["guide_path", "lam"]])  # seeded


# ---------------------------------------------------------------- generation
def run(pipe, rows: pd.DataFrame, p: gen.GenerationParams, out: Path, workers: int = 2, **levers: object) -> Path:
    gen.generate_shard(pipe, rows, p, "tiny", out / "shard0.tar", out / "shard0.csv", progress=False,
                       workers=workers, **levers)
    return out / "shard0.tar"


def same_bytes(one: Path, other: Path) -> None:
    """The shard tar and manifest in folder ``one`` are byte for byte those in ``other``
    (the manifest names its own shard's path)."""
    for name in ("shard0.tar", "shard0.csv"):
        assert (other / name).read_bytes() == (one / name).read_bytes().replace(str(one).encode(), str(other).encode())


@pytest.mark.parametrize("variant", ["pg", "ig"])
def test_images_do_not_depend_on_shard_or_batch(pipe, table: pd.DataFrame, tmp_path: Path, variant: str) -> None:
    one = images(run(pipe, plan(table, variant), params(variant), tmp_path / "one"))
    split = {}
    for k in range(2):
        rows = plan(table, variant, shard=k, shards=2, batch_size=1)
        split |= images(run(pipe, rows, params(variant, batch_size=1), tmp_path / f"s{k}"))
    assert one.keys() == split.keys() and len(one) == 6
    # Per-image generators make the noise identical; the UNet's batched float arithmetic may
    # differ in the last bits between batch sizes, which can move a pixel by one grey level.
    assert max(np.abs(one[n] - split[n]).max() for n in one) <= 1


def test_pixel_space_mixing_runs_and_differs_from_latent(pipe, table: pd.DataFrame, tmp_path: Path) -> None:
    latent = images(run(pipe, plan(table, "ig"), params("ig"), tmp_path / "latent"))
    pixel = images(run(pipe, plan(table, "ig", mix_space="pixel"), params("ig", mix_space="pixel"), tmp_path / "pixel"))
    assert latent.keys() == pixel.keys()
    assert any(np.abs(latent[n] - pixel[n]).max() > 1 for n in latent)


def test_manifest_records_every_image_and_parameter(pipe, table: pd.DataFrame, tmp_path: Path) -> None:
    tar = run(pipe, plan(table, "ig"), params("ig"), tmp_path)
    manifest = pd.read_csv(tmp_path / "shard0.csv", keep_default_na=False)
    assert list(manifest.columns) == gen.MANIFEST_COLUMNS
    assert list(manifest["member"]) == TarShard(tar).names()
    assert (manifest["shard"] == str(tar)).all() and (manifest["model"] == "tiny").all()
    assert set(manifest["source_domain"]) == {"photo"} and set(manifest["target_domain"]) == {"sketch"}
    assert (manifest[["strength", "guidance_scale", "steps", "scheduler", "resolution", "mix_space"]]
            .drop_duplicates().to_dict("records") == [{"strength": 0.7, "guidance_scale": 2.0, "steps": 4,
                                                      "scheduler": "ddim", "resolution": 16, "mix_space": "latent"}])
    assert (manifest["guide_path"] != "").all() and (manifest["variant"] == "ig").all()
    assert TarShard(tar).image(manifest["member"][0]).size == (16, 16)
    assert not (tmp_path / "shard0.partial").exists()


@pytest.mark.parametrize(("variant", "mix_space"), [("pg", None), ("ig", "latent"), ("ig", "pixel")])
def test_overlapped_batches_write_the_serial_bytes(pipe, table: pd.DataFrame, tmp_path: Path,
                                                   variant: str, mix_space: str | None) -> None:
    change = {"batch_size": 2} | ({"mix_space": mix_space} if mix_space else {})
    rows, p = plan(table, variant, **change), params(variant, **change)
    run(pipe, rows, p, tmp_path / "serial", workers=0)
    for workers in (1, 3):
        run(pipe, rows, p, tmp_path / f"workers{workers}", workers=workers)
        same_bytes(tmp_path / "serial", tmp_path / f"workers{workers}")


def test_a_cpu_job_runs_serially_and_an_accelerator_job_overlaps() -> None:
    """On the CPU the overlap threads would take the pipeline's cores (README, "Generation");
    beside a GPU ``auto`` sizes the pool from the node's cores."""
    assert accel.writer_workers(2, torch.device("cpu")) == 0
    assert accel.writer_workers("auto", torch.device("cpu")) == 0
    assert accel.writer_workers(2, torch.device("cuda", 0)) == 2
    assert accel.writer_workers(3, torch.device("mps")) == 3
    assert accel.writer_workers("auto", torch.device("cuda", 0), cores=16) == accel.WRITERS_MAX
    assert accel.writer_workers("auto", torch.device("cuda", 0), cores=4) == 3
    assert accel.writer_workers("auto", torch.device("cuda", 0), cores=1) == 1
    assert accel.node_cores() == len(os.sched_getaffinity(0))
    with pytest.raises(ValueError, match="generation.workers"):
        accel.writer_workers(-1, torch.device("cuda", 0))


def test_the_next_batch_is_read_while_the_pipeline_runs(pipe, table: pd.DataFrame, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    rows, p = plan(table, "pg", batch_size=2), params("pg", batch_size=2)
    read = {path: threading.Event() for path in rows["source_path"]}
    readers = set()
    load = gen.load_image

    def loading(path: str, resolution: int):
        readers.add(threading.current_thread().name)
        read[path].set()
        return load(path, resolution)

    monkeypatch.setattr(gen, "load_image", loading)
    overlapped = []

    class WaitsForTheNextBatch:
        def __getattr__(self, name: str) -> object:
            return getattr(pipe, name)

        def __call__(self, **kwargs: object) -> object:
            following = 2 * (len(overlapped) + 1)  # the next batch's first source
            overlapped.append(following >= len(rows) or read[rows["source_path"].iloc[following]].wait(20))
            return pipe(**kwargs)

    run(WaitsForTheNextBatch(), rows, p, tmp_path, workers=1)
    assert overlapped == [True, True, True]
    assert readers == {"generate_0"}  # the worker thread, never the pipeline's


@pytest.mark.parametrize("variant", ["pg", "ig"])
def test_interrupted_shard_resumes_to_identical_bytes(pipe, table: pd.DataFrame, tmp_path: Path,
                                                      variant: str) -> None:
    """IG too: its lam range is a tuple, which the stamp reads back as a list."""
    p = params(variant, batch_size=2)
    rows = plan(table, variant, batch_size=2)
    run(pipe, rows, p, tmp_path / "whole", workers=0)  # the serial path; the runs below overlap

    calls = []

    class DiesAfterTwoBatches:
        def __getattr__(self, name: str) -> object:
            return getattr(pipe, name)

        def __call__(self, **kwargs: object) -> object:
            if len(calls) == 2:
                raise KeyboardInterrupt("killed")
            calls.append(kwargs["prompt"])
            return pipe(**kwargs)

    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        run(DiesAfterTwoBatches(), rows, p, out)
    assert sorted(f.name for f in (out / "shard0.partial").glob("batch*.tar")) == ["batch00000.tar", "batch00001.tar"]
    assert not (out / "shard0.tar").exists()

    calls.clear()
    run(DiesAfterTwoBatches(), rows, p, out)  # only the last batch is left to generate
    assert len(calls) == 1
    same_bytes(tmp_path / "whole", out)


def test_partial_batches_of_another_plan_are_discarded(pipe, table: pd.DataFrame, tmp_path: Path) -> None:
    p = params("pg", batch_size=2)
    rows = plan(table, "pg", batch_size=2)
    stale = tmp_path / "shard0.partial"
    stale.mkdir()
    (stale / "batch00000.tar").write_bytes(b"from another run")
    run(pipe, rows, p, tmp_path)
    assert len(TarShard(tmp_path / "shard0.tar").names()) == len(rows)


def test_png_members_are_plain_png_encodings(pipe, table: pd.DataFrame, tmp_path: Path) -> None:
    """The default format writes today's bytes: each member is Pillow's PNG of its image."""
    shard = TarShard(run(pipe, plan(table, "pg"), params("pg"), tmp_path))
    assert all(shard.read(n) == png_bytes(shard.image(n)) for n in shard.names())


@pytest.mark.parametrize("image_format", ["jpeg", "webp"])
def test_lossy_format_stores_the_same_images(pipe, table: pd.DataFrame, tmp_path: Path,
                                             image_format: str) -> None:
    """A lossy job writes exactly the PNG job's images in its format: the format changes only
    the encoding, the last step."""
    rows = plan(table, "ig")
    png = TarShard(run(pipe, rows, params("ig"), tmp_path / "png"))
    lossy = TarShard(run(pipe, rows, params("ig", image_format=image_format, image_quality=95), tmp_path / "lossy"))
    assert lossy.names() == png.names()
    for name in png.names():
        assert lossy.read(name) == image_bytes(png.image(name), image_format, 95)
        assert Image.open(io.BytesIO(lossy.read(name))).format == IMAGE_FORMATS[image_format]
        assert lossy.image(name).size == (16, 16)


def test_batches_of_another_format_are_not_resumed(pipe, table: pd.DataFrame, tmp_path: Path) -> None:
    """A job killed while writing PNG and rerun as JPEG remakes every batch: no shard mixes formats."""
    rows = plan(table, "pg", batch_size=2)

    class DiesAfterOneBatch:
        calls = 0

        def __getattr__(self, name: str) -> object:
            return getattr(pipe, name)

        def __call__(self, **kwargs: object) -> object:
            if DiesAfterOneBatch.calls == 1:
                raise KeyboardInterrupt("killed")
            DiesAfterOneBatch.calls += 1
            return pipe(**kwargs)

    with pytest.raises(KeyboardInterrupt):
        run(DiesAfterOneBatch(), rows, params("pg", batch_size=2), tmp_path)
    assert (tmp_path / "shard0.partial" / "batch00000.tar").is_file()
    shard = TarShard(run(pipe, rows, params("pg", batch_size=2, image_format="jpeg", image_quality=90), tmp_path))
    assert {Image.open(io.BytesIO(shard.read(n))).format for n in shard.names()} == {"JPEG"}


# ---------------------------------------------------------------- execution levers
def test_batch_size_fits_the_memory_in_powers_of_two() -> None:
    # 500 bytes whatever the batch, 600 per image: 9000 free bytes fit 14 images, so 8
    assert gen.fitting_batch(9000, 1100, 1700) == 8
    assert gen.fitting_batch(9000, 1100, 1700, cap=4) == 4
    assert gen.fitting_batch(100, 1100, 1700) == 1  # nothing fits: one at a time
    assert gen.fitting_batch(10**15, 1100, 1700) == gen.AUTO_BATCH_CAP


def test_memory_probe_runs_the_pipeline_at_one_and_two_images(pipe, monkeypatch: pytest.MonkeyPatch) -> None:
    """No GPU here: torch.cuda's memory counters are stood in for at the boundary (a fixed 1000
    bytes of weights, 500 of workspace and 300 per UNet sample); the pipeline calls are real."""
    seen: list[int] = []
    hook = pipe.unet.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[0]))
    fake = {"empty_cache": lambda: None, "reset_peak_memory_stats": lambda dev: None,
            "memory_allocated": lambda dev: 1000,
            "max_memory_allocated": lambda dev: 1500 + 300 * seen[-1],
            "mem_get_info": lambda dev: (10_000, 20_000)}
    for name, value in fake.items():
        monkeypatch.setattr(torch.cuda, name, value)
    try:
        size = gen.fitting_batch_size(pipe, params("pg"))
    finally:
        hook.remove()
    assert seen == [2, 4]  # one denoising step each, classifier-free guidance doubles the batch
    assert size == gen.fitting_batch(9000, 1100, 1700) == 8


def test_the_cpu_keeps_the_configured_batch_size(pipe, tmp_path: Path) -> None:
    assert gen.job_batch_size(pipe, params("pg", batch_size=3), tmp_path / "shard0.tar", auto=True) == 3


def test_a_resumed_job_keeps_its_batch_size_when_it_fits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its finished batches stay valid only at their size; the memory probe is stood in for."""
    tar = tmp_path / "shard0.tar"
    stamp = tar.with_suffix(".partial") / "plan.json"
    stamp.parent.mkdir()
    stamp.write_text('{"params": {"batch_size": 4}}')
    assert gen.partial_batch_size(tar) == 4
    cuda = type("Pipe", (), {"device": torch.device("cuda")})()
    for fits, expected in ((16, 4), (2, 2)):
        monkeypatch.setattr(gen, "fitting_batch_size", lambda pipe, p, fits=fits: fits)
        assert gen.job_batch_size(cuda, params("pg"), tar, auto=True) == expected
    assert gen.partial_batch_size(tmp_path / "other.tar") is None


def test_channels_last_weights_generate_the_same_images(tmp_path: Path, table: pd.DataFrame) -> None:
    model = str(save_tiny_pipeline(tmp_path / "pipe"))
    plain, fast = load_pipeline(model, "cpu"), load_pipeline(model, "cpu", channels_last=True)
    for module in (fast.unet.conv_in, fast.vae.encoder.conv_in, fast.vae.decoder.conv_out):
        assert module.weight.is_contiguous(memory_format=torch.channels_last)
    assert not plain.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)  # CPU default
    rows, p = plan(table, "ig"), params("ig")
    one = images(run(plain, rows, p, tmp_path / "plain"))
    other = images(run(fast, rows, p, tmp_path / "fast"))
    assert max(np.abs(one[n] - other[n]).max() for n in one) <= 1


def test_compiled_unet_generates_the_same_images(tmp_path: Path, table: pd.DataFrame) -> None:
    """The compile path up to the backend: TorchDynamo traces the UNet into graphs that the
    'eager' backend runs. Inductor's code generation (the production backend) takes about 4
    minutes for even this tiny UNet on a 2-core CPU; benchmarks/gpu_check.sh runs it on a GPU."""
    model = str(save_tiny_pipeline(tmp_path / "pipe"))
    plain, compiled = load_pipeline(model, "cpu"), load_pipeline(model, "cpu")
    accel.compile_modules(compiled, backend="eager")
    traced = []
    compiled.unet.register_forward_pre_hook(lambda module, args: traced.append(torch.compiler.is_compiling()))
    rows, p = plan(table, "pg"), params("pg", batch_size=6)
    one = images(run(plain, rows, p, tmp_path / "plain"))
    other = images(run(compiled, rows, p, tmp_path / "compiled"))
    assert traced and all(traced)  # every UNet call went through the compiled graph's trace
    assert max(np.abs(one[n] - other[n]).max() for n in one) <= 1


# ---------------------------------------------------------------- GPU levers on their CPU code paths
class Recording:
    """The pipeline, recording each call's batch size, whether SDPA's math kernel was allowed
    and ``probe()`` (if given) before the call."""

    def __init__(self, pipe, probe=None) -> None:
        self.pipe, self.probe, self.sizes, self.math, self.probed = pipe, probe, [], [], []

    def __getattr__(self, name: str) -> object:
        return getattr(self.pipe, name)

    def __call__(self, **kwargs: object) -> object:
        self.sizes.append(len(kwargs["prompt"]))
        self.math.append(torch.backends.cuda.math_sdp_enabled())
        if self.probe:
            self.probed.append(self.probe())
        return self.pipe(**kwargs)


@pytest.mark.parametrize("variant", ["pg", "ig"])
def test_the_padded_last_batch_keeps_the_unpadded_bytes(pipe, table: pd.DataFrame, tmp_path: Path,
                                                         variant: str) -> None:
    """A compiled job pads its last batch (6 images at 4 a batch: 4 + 2 padded to 4), so the UNet
    meets one shape; the kept images and the manifest are byte for byte the unpadded ones."""
    rows, p = plan(table, variant), params(variant, batch_size=4)
    run(pipe, rows, p, tmp_path / "plain", workers=0)
    padded = Recording(pipe)
    run(padded, rows, p, tmp_path / "padded", workers=0, pad=True)
    assert padded.sizes == [4, 4]
    same_bytes(tmp_path / "plain", tmp_path / "padded")
    assert len(TarShard(tmp_path / "padded" / "shard0.tar").names()) == 6


@pytest.mark.parametrize("variant", ["pg", "ig"])
def test_uint8_decoding_on_the_device_is_the_pipelines_own_pil_output(pipe, table: pd.DataFrame,
                                                                      variant: str) -> None:
    """run_pipeline stops the pipeline at the latents and decodes them to uint8 where they are;
    the pixels are exactly those of the pipeline's own ``output_type="pil"`` (today's shards)."""
    inputs = gen.prepare_batch(pipe, plan(table, variant), params(variant))
    ours = gen.run_pipeline(pipe, inputs)
    assert ours.dtype == torch.uint8 and ours.shape == (6, 16, 16, 3)
    again = gen.prepare_batch(pipe, plan(table, variant), params(variant))  # fresh generators
    theirs = np.stack([np.asarray(im) for im in pipe(**again, output_type="pil").images])
    assert np.array_equal(ours.numpy(), theirs)


def test_the_attention_backend_is_set_around_the_pipeline_call(pipe, table: pd.DataFrame, tmp_path: Path) -> None:
    rows, p = plan(table, "pg"), params("pg")
    auto, flash = Recording(pipe), Recording(pipe)
    run(auto, rows, p, tmp_path / "auto", workers=0)
    run(flash, rows, p, tmp_path / "flash", workers=0, attention="flash")
    assert auto.math == [True, True] and flash.math == [False, False]  # flash only: math off
    assert torch.backends.cuda.math_sdp_enabled()  # restored after the call
    math = Recording(pipe)
    run(math, rows, p, tmp_path / "math", workers=0, attention="math")
    one, other = images(tmp_path / "auto" / "shard0.tar"), images(tmp_path / "math" / "shard0.tar")
    assert max(np.abs(one[n] - other[n]).max() for n in one) <= 1  # the CPU kernels' last bits
    with pytest.raises(ValueError, match="generation.attention 'fast'"):
        run(pipe, rows, p, tmp_path / "bad", workers=0, attention="fast")


def test_compile_is_on_for_cuda_by_default_and_memory_format_follows_the_path() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    assert accel.compile_on("auto", cuda) and not accel.compile_on("auto", cpu)
    assert accel.compile_on(True, cpu) and not accel.compile_on(False, cuda)
    with pytest.raises(ValueError, match="generation.compile"):
        accel.compile_on("yes", cuda)
    # eager: contiguous (channels-last cost 10 % on the H200); compiled on CUDA: channels-last
    assert not accel.channels_last_on("auto", cuda, compiled=False)
    assert accel.channels_last_on("auto", cuda, compiled=True)
    assert not accel.channels_last_on("auto", cpu, compiled=True)
    assert accel.channels_last_on("channels_last", cpu, compiled=False)
    assert not accel.channels_last_on("contiguous", cuda, compiled=True)
    with pytest.raises(ValueError, match="generation.memory_format"):
        accel.channels_last_on("nhwc", cuda, compiled=True)


def test_the_compile_cache_directory_is_inductors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from torch._inductor import config as inductor
    from torch._inductor.runtime.cache_dir_utils import cache_dir

    for name in ("TORCHINDUCTOR_CACHE_DIR", "TORCHINDUCTOR_FX_GRAPH_CACHE", "TORCHINDUCTOR_AUTOGRAD_CACHE",
                 "TRITON_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(inductor, "fx_graph_cache", False)
    assert accel.use_compile_cache(None) is None and "TORCHINDUCTOR_CACHE_DIR" not in os.environ
    path = accel.use_compile_cache(tmp_path / "compile cache")
    assert path.is_dir() and cache_dir() == str(path)  # where Inductor writes its caches
    assert inductor.fx_graph_cache and os.environ["TORCHINDUCTOR_FX_GRAPH_CACHE"] == "1"
    assert os.environ["TRITON_CACHE_DIR"] == str(path / "triton")


def test_compiled_unet_and_vae_generate_the_same_images_in_one_shape(tmp_path: Path, table: pd.DataFrame) -> None:
    """compile_modules on the CPU up to the backend: TorchDynamo traces the UNet and the VAE's
    encoder and decoder into graphs that a recording backend runs as traced (Inductor's code
    generation takes about 4 minutes for even this tiny UNet on a 2-core CPU; gpu_check.sh
    runs it on the GPU). The padded job compiles its graphs in its first batch only; unpadded,
    the last, smaller batch compiles more. Compiled and eager images differ by at most 1 grey
    level here; on the H200, Inductor's fp16 kernels stayed within 2 (levers_sd15_cuda.txt)."""
    model = str(save_tiny_pipeline(tmp_path / "pipe"))
    plain = load_pipeline(model, "cpu")
    rows, p = plan(table, "ig"), params("ig", batch_size=4)  # 6 images: 4 + 2
    one = images(run(plain, rows, p, tmp_path / "plain", workers=0))
    for pad in (True, False):
        torch._dynamo.reset()
        graphs, calls = [], []

        def backend(gm: torch.fx.GraphModule, example_inputs: list, graphs=graphs, calls=calls):
            graphs.append(gm)

            def traced(*args: object) -> object:
                calls.append(len(graphs))
                return gm.forward(*args)
            return traced

        compiled = load_pipeline(model, "cpu")
        assert accel.compile_modules(compiled, "reduce-overhead", vae=True, backend=backend) == [
            "unet", "vae.encoder", "vae.decoder"]
        recording = Recording(compiled, probe=lambda graphs=graphs: len(graphs))
        other = images(run(recording, rows, p, tmp_path / f"compiled{pad}", workers=0, pad=pad))
        assert calls and max(np.abs(one[n] - other[n]).max() for n in one) <= 1
        # graphs made by the second call (the first batch, and the second's input encoding)
        made = recording.probed[1]
        if pad:
            assert recording.sizes == [4, 4] and len(graphs) == made  # one shape: no new graph
        else:
            assert recording.sizes == [4, 2] and len(graphs) > made  # the last batch recompiled
    with pytest.raises(ValueError, match="generation.compile_mode"):
        accel.compile_modules(plain, "fastest")
