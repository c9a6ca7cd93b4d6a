"""generation.sync_free_steps (cdga.generation.syncs): the DDIM and PNDM steps read host
timesteps, so a pipeline call's device-to-host scalar reads no longer grow with its steps, and
the images are byte for byte the plain path's. The reads are counted on the CPU with a
TorchDispatchMode; on a GPU each read of a device tensor is a sync."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from diffusers import DDIMScheduler
from sd_pipeline import SETTINGS, save_tiny_pipeline
from toy_dataset import tiny_split_table

from cdga.generation import generate as gen
from cdga.generation import syncs
from cdga.generation.ldm import load_pipeline

CONFIG = {
    "steps": 5, "scheduler": "ddim", "resolution": 16, "seed": 0, "batch_size": 4,
    "pg": {"strength": 0.8, "guidance_scale": 3.0},
    "ig": {"strength": 0.7, "guidance_scale": 2.0, "lam": [0.3, 0.7], "mix_space": "latent"},
}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(save_tiny_pipeline(tmp_path_factory.mktemp("syncs") / "pipe"))


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return tiny_split_table(tmp_path_factory.mktemp("data"), per_class=4)


def pipelines(model: str, scheduler: str) -> tuple:
    """The plain pipeline and one with the sync-free step, both with ``scheduler``."""
    plain, fast = load_pipeline(model, "cpu", scheduler=scheduler), load_pipeline(model, "cpu", scheduler=scheduler)
    assert syncs.use_sync_free_steps(fast) == (scheduler in ("ddim", "pndm"))
    return plain, fast


def job(table: pd.DataFrame, variant: str, scheduler: str, steps: int = 5) -> tuple:
    params = gen.GenerationParams.from_config({**CONFIG, "scheduler": scheduler, "steps": steps}, variant)
    return gen.plan_shard(table, "Tiny", SETTINGS, params, "photo", "sketch", 0, 0, 1), params


def reads(pipe, table: pd.DataFrame, variant: str, scheduler: str, steps: int) -> syncs.ScalarReads:
    """The scalar reads of one production pipeline call (``run_pipeline``) of a batch of 4."""
    rows, params = job(table, variant, scheduler, steps)
    inputs = gen.prepare_batch(pipe, rows.head(4), params)
    with syncs.ScalarReads() as counter:
        gen.run_pipeline(pipe, inputs)
    return counter


@pytest.mark.parametrize("scheduler", ["ddim", "pndm"])
@pytest.mark.parametrize("variant", ["pg", "ig"])
def test_sync_free_steps_write_the_same_shard_bytes(model: str, table: pd.DataFrame, tmp_path: Path,
                                                    scheduler: str, variant: str) -> None:
    plain, fast = pipelines(model, scheduler)
    rows, params = job(table, variant, scheduler)  # 6 images, batches of 4 and 2: two calls each
    for name, pipe in (("plain", plain), ("fast", fast)):
        gen.generate_shard(pipe, rows, params, "tiny", tmp_path / name / "shard0.tar", tmp_path / name / "shard0.csv",
                           progress=False, workers=0)
    assert (tmp_path / "fast" / "shard0.tar").read_bytes() == (tmp_path / "plain" / "shard0.tar").read_bytes()


@pytest.mark.parametrize("scheduler", ["ddim", "pndm"])
def test_scalar_reads_no_longer_grow_with_the_steps(model: str, table: pd.DataFrame, scheduler: str) -> None:
    """5 and 10 steps at strength 0.8 denoise 4 and 8 times. Plain, the step reads its device
    timestep each time (DDIM: about 6 reads a step); sync-free, a call reads the same few
    scalars whatever its steps (the image preprocessing's range check), none in a scheduler."""
    plain, fast = pipelines(model, scheduler)
    before = {steps: reads(plain, table, "pg", scheduler, steps) for steps in (5, 10)}
    after = {steps: reads(fast, table, "pg", scheduler, steps) for steps in (5, 10)}
    assert before[10].count - before[5].count >= 4
    assert any("scheduling_" in line for line in before[10].by_line)
    assert after[10].count == after[5].count < before[5].count
    assert not any("scheduling_" in line for line in after[10].by_line), after[10].by_line


@pytest.mark.parametrize("scheduler", ["dpm", "unipc"])
def test_samplers_that_step_by_index_are_kept_and_read_no_timestep(model: str, table: pd.DataFrame,
                                                                   scheduler: str) -> None:
    plain, fast = pipelines(model, scheduler)
    assert type(fast.scheduler) is type(plain.scheduler)
    counts = [reads(fast, table, "ig", scheduler, steps).count for steps in (5, 10)]
    assert counts[0] == counts[1]


def test_a_timestep_from_elsewhere_is_read_as_before() -> None:
    """Only a timestep that is an element of the scheduler's own ``timesteps`` is looked up on
    the host; an int or another tensor goes to diffusers' step unchanged, with the same result."""
    plain, fast = DDIMScheduler(), syncs.SyncFreeDDIMScheduler()
    for scheduler in (plain, fast):
        scheduler.set_timesteps(10)
    assert fast.host_timesteps == plain.timesteps.tolist() and torch.equal(fast.timesteps, plain.timesteps)
    view, copy = fast.timesteps[3], fast.timesteps[3].clone()
    assert fast.host_timestep(view) == plain.timesteps[3].item() and isinstance(fast.host_timestep(view), int)
    assert fast.host_timestep(copy) is copy and fast.host_timestep(7) == 7
    sample, noise = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0)).unbind(0)
    for timestep in (view, copy, int(view)):
        ours = fast.step(noise[None], timestep, sample[None]).prev_sample
        assert torch.equal(ours, plain.step(noise[None], plain.timesteps[3], sample[None]).prev_sample)


def test_sync_free_steps_are_on_for_cuda_by_default() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    assert syncs.sync_free_on("auto", cuda) and not syncs.sync_free_on("auto", cpu)
    assert syncs.sync_free_on(True, cpu) and not syncs.sync_free_on(False, cuda)
    with pytest.raises(ValueError, match="generation.sync_free_steps"):
        syncs.sync_free_on("yes", cuda)
    scheduler = syncs.SyncFreeDDIMScheduler()
    assert syncs.sync_free_scheduler(scheduler) is scheduler  # sync-free already
