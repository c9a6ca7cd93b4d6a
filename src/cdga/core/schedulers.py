"""The denoising schedulers ``generation.scheduler`` offers: config name -> diffusers class name.

Torch-free, so the config schema's enum (``cdga.config.registry_defs``) reads it while the
workflow parses; ``cdga.generation.ldm.make_scheduler`` builds the class from the pipeline's own config.
``ddim``, ``dpm`` (DPM-Solver++(2M)), ``euler`` and ``unipc`` (UniPC-bh2, order 2) take one UNet
evaluation per denoising step; ``pndm`` built from a DDIM config adds Runge-Kutta warm-up steps.
"""

SCHEDULERS = {
    "ddim": "DDIMScheduler",
    "dpm": "DPMSolverMultistepScheduler",
    "euler": "EulerDiscreteScheduler",
    "pndm": "PNDMScheduler",
    "unipc": "UniPCMultistepScheduler",
}
