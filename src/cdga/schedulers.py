"""The denoising schedulers ``generation.scheduler`` offers: config name -> diffusers class name.

Torch-free, so the config schema's enum (``cdga.config.registry_defs``) reads it while the
workflow parses; ``cdga.ldm.make_scheduler`` builds the class from the pipeline's own config.
One UNet evaluation per denoising step for each of them (Heun-type solvers, two per step, are
not offered). ``dpm`` is DPM-Solver++(2M) and ``unipc`` UniPC-bh2 of order 2, diffusers' defaults.
"""

SCHEDULERS = {
    "ddim": "DDIMScheduler",
    "dpm": "DPMSolverMultistepScheduler",
    "euler": "EulerDiscreteScheduler",
    "pndm": "PNDMScheduler",
    "unipc": "UniPCMultistepScheduler",
}
