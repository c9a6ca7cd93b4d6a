"""Execution levers of the generation job: compile, compile cache, memory format, attention
backend and the writer pool's size. Speed only: none of them enters a rule's params.

Measured on one H200 (benchmarks/results/2026-12-04-h200/levers_sd15_cuda.txt, SD v1.5
architecture, fp16, batch 16): ``torch.compile`` of the UNet 6.10 against 4.28 images/s
(+44 %, first call 42 s, within 2 grey levels); channels-last 4.23 against contiguous 4.68
images/s in eager. So ``auto`` compiles on CUDA, and eager runs contiguous. The other levers
(VAE compile, compile mode, attention backend, channels-last when compiled) are off until
``benchmarks/gpu_check.sh`` measures them.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

log = logging.getLogger(__name__)

AUTO = "auto"
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
ATTENTION = {"auto": None, "flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
             "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}
MEMORY_FORMATS = ("auto", "contiguous", "channels_last")
WRITERS_MAX = 8  # threads that encode and write beside the GPU: PNG encoding releases the GIL


def on_for_cuda(key: str, setting: bool | str, device: torch.device) -> bool:
    """A ``true | false | auto`` switch (config key ``key``), where ``auto`` means on CUDA only."""
    if setting == AUTO:
        return device.type == "cuda"
    if isinstance(setting, bool):
        return setting
    raise ValueError(f"{key} must be true, false or 'auto', got {setting!r}")


def compile_on(setting: bool | str, device: torch.device) -> bool:
    """Whether to compile: ``auto`` means on CUDA (+44 % measured), off elsewhere (Inductor's
    code generation takes minutes on a CPU and was not measured to pay there)."""
    return on_for_cuda("generation.compile", setting, device)


def channels_last_on(setting: str, device: torch.device, compiled: bool) -> bool:
    """The weights' memory format per path: ``auto`` is contiguous in eager (channels-last cost
    10 % on the H200) and channels-last when compiled on CUDA (Inductor picks its layouts;
    gpu_check.sh measures both)."""
    if setting not in MEMORY_FORMATS:
        raise ValueError(f"generation.memory_format {setting!r}; known: {list(MEMORY_FORMATS)}")
    if setting == AUTO:
        return compiled and device.type == "cuda"
    return setting == "channels_last"


def set_memory_format(pipe, channels_last: bool) -> None:
    """Store the UNet's and VAE's convolution weights channels-last or contiguous."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    pipe.unet.to(memory_format=fmt)
    pipe.vae.to(memory_format=fmt)


def use_compile_cache(directory: str | Path | None) -> Path | None:
    """Point Inductor's persistent caches (FX graphs, AOT autograd, autotuning) at ``directory``,
    so that a node's or a study's jobs compile once and later jobs load the kernels. Call it
    before the first compiled call; None keeps torch's default (a per-user temp folder)."""
    if not directory:
        return None
    path = Path(directory).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(path)
    os.environ["TORCHINDUCTOR_FX_GRAPH_CACHE"] = "1"
    os.environ["TORCHINDUCTOR_AUTOGRAD_CACHE"] = "1"
    os.environ.setdefault("TRITON_CACHE_DIR", str(path / "triton"))
    from torch._inductor import config as inductor

    inductor.fx_graph_cache = True
    inductor.autotune_local_cache = True
    return path


def compile_modules(pipe, mode: str = "default", vae: bool = False, backend: str = "inductor") -> list[str]:
    """``torch.compile`` the UNet (and with ``vae`` the VAE's encoder and decoder) in place, for
    fixed shapes (a job pads its last batch, so one graph per job). ``mode``: Inductor's
    ``default``, ``reduce-overhead`` (CUDA graphs) or ``max-autotune``. Returns the names."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"generation.compile_mode {mode!r}; known: {list(COMPILE_MODES)}")
    options = {"dynamic": False, "backend": backend}
    if backend == "inductor":
        options["mode"] = mode
    modules = {"unet": pipe.unet}
    if vae:
        modules |= {"vae.encoder": pipe.vae.encoder, "vae.decoder": pipe.vae.decoder}
    for module in modules.values():
        module.compile(**options)
    return list(modules)


@contextlib.contextmanager
def attention(backend: str) -> Iterator[None]:
    """Restrict scaled-dot-product attention to ``backend`` (``auto``: torch chooses)."""
    if backend not in ATTENTION:
        raise ValueError(f"generation.attention {backend!r}; known: {list(ATTENTION)}")
    if ATTENTION[backend] is None:
        yield
        return
    with sdpa_kernel(ATTENTION[backend]):
        yield


def node_cores() -> int:
    """The CPU cores this process may run on (its affinity: SLURM's allocation)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def writer_workers(setting: int | str, device: torch.device, cores: int | None = None) -> int:
    """Threads that prepare and write batches beside the pipeline: none on the CPU (they would
    take the pipeline's cores: idle demo, 83 % overlapped vs 98 % serial); ``auto`` on an
    accelerator takes the node's cores less one for the pipeline's thread, up to WRITERS_MAX."""
    if device.type == "cpu":
        return 0
    if setting == AUTO:
        return max(1, min((cores or node_cores()) - 1, WRITERS_MAX))
    if not isinstance(setting, int) or setting < 0:
        raise ValueError(f"generation.workers must be 'auto' or a count >= 0, got {setting!r}")
    return setting
