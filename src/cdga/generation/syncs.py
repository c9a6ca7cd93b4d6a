"""Keeping per-step host syncs out of the denoising loop (``generation.sync_free_steps``), and
a counter of the device-to-host scalar reads a call makes.

diffusers' DDIM and PNDM ``step`` read the value of the timestep they are given: they index
``alphas_cumprod`` with it and test ``prev_timestep >= 0``. The pipeline's loop passes each
timestep as a 0-d tensor on the device, so every such read is a ``.item()``
(``aten._local_scalar_dense``), a device-to-host sync that waits for the UNet's queued
kernels and leaves the GPU idle while Python launches the next step. Here the scheduler keeps
a host copy of its timesteps, and ``step`` passes the scheduler's own code the host value of
the timestep it is given: found by where that tensor lies in the scheduler's ``timesteps``
(the loop iterates views of it), which is a host-side lookup. The arithmetic is the
scheduler's own on the same tensors, so the images are the same bytes (tests/test_syncs.py).
A timestep that is not such a view is passed on unchanged. DPM-Solver++, UniPC and Euler step
by a host-side index already, so they are kept as they are.
"""

from __future__ import annotations

import collections
import traceback
from pathlib import Path

import torch
from diffusers import DDIMScheduler, PNDMScheduler
from torch.utils._python_dispatch import TorchDispatchMode

from cdga.generation.accel import on_for_cuda

SCALAR_READ = torch.ops.aten._local_scalar_dense.default


def sync_free_on(setting: bool | str, device: torch.device) -> bool:
    """Whether to use the sync-free step: ``auto`` means on CUDA, where a sync drains the
    launch queue; the CPU has no queue to drain."""
    return on_for_cuda("generation.sync_free_steps", setting, device)


class HostTimesteps:
    """Mixin for a scheduler whose ``step(model_output, timestep, sample, ...)`` reads the
    timestep's value: ``set_timesteps`` keeps ``host_timesteps`` beside the device tensor, and
    ``step`` is given the host value of a timestep taken from ``timesteps``."""

    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None, **kwargs) -> None:
        super().set_timesteps(num_inference_steps, device="cpu", **kwargs)
        self.host_timesteps = self.timesteps.tolist()
        self.timesteps = self.timesteps.to(device)

    def host_timestep(self, timestep: object) -> object:
        """The host value of ``timestep`` when it is one element of ``self.timesteps`` (its
        storage and offset say which, without reading the device), else ``timestep``."""
        own = self.timesteps
        if not (isinstance(timestep, torch.Tensor) and timestep.dim() == 0 and timestep.device == own.device
                and timestep.dtype == own.dtype
                and timestep.untyped_storage().data_ptr() == own.untyped_storage().data_ptr()):
            return timestep
        index, rest = divmod(timestep.storage_offset() - own.storage_offset(), own.stride(0))
        return self.host_timesteps[index] if rest == 0 and 0 <= index < len(self.host_timesteps) else timestep

    def step(self, model_output: torch.Tensor, timestep: object, sample: torch.Tensor, *args, **kwargs):
        return super().step(model_output, self.host_timestep(timestep), sample, *args, **kwargs)


class SyncFreeDDIMScheduler(HostTimesteps, DDIMScheduler):
    """DDIM, its ``step`` given host timesteps."""


class SyncFreePNDMScheduler(HostTimesteps, PNDMScheduler):
    """PNDM, its ``step`` given host timesteps."""


SYNC_FREE = {DDIMScheduler: SyncFreeDDIMScheduler, PNDMScheduler: SyncFreePNDMScheduler}


def sync_free_scheduler(scheduler):
    """The sync-free version of ``scheduler`` (same config), or ``scheduler`` itself where its
    step reads no timestep value (DPM-Solver++, UniPC, Euler) or it is sync-free already."""
    cls = SYNC_FREE.get(type(scheduler))
    return cls.from_config(scheduler.config) if cls else scheduler


def use_sync_free_steps(pipe) -> bool:
    """Give ``pipe`` the sync-free version of its scheduler; True when it changed."""
    scheduler = sync_free_scheduler(pipe.scheduler)
    changed = scheduler is not pipe.scheduler
    pipe.scheduler = scheduler
    return changed


class ScalarReads(TorchDispatchMode):
    """Counts the tensor-to-Python scalar reads (``aten._local_scalar_dense``: ``.item()``,
    ``bool(t)``, ``int(t)``, indexing with a 0-d tensor) made inside the ``with`` block: on a
    GPU, each read of a device tensor is a device-to-host sync. Works on every device, the CPU
    included. ``by_device``: reads per device type of the tensor read; ``by_line``: per
    innermost diffusers or cdga source line."""

    def __init__(self) -> None:
        super().__init__()
        self.by_device: collections.Counter[str] = collections.Counter()
        self.by_line: collections.Counter[str] = collections.Counter()

    @property
    def count(self) -> int:
        return sum(self.by_device.values())

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is SCALAR_READ:
            self.by_device[args[0].device.type] += 1
            frames = [f for f in traceback.extract_stack()
                      if ("diffusers" in f.filename or "cdga" in f.filename) and f.filename != __file__]
            self.by_line[f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"] += 1
        return func(*args, **(kwargs or {}))
