"""Rule train_demo_ldm: train the tiny SD-architecture pipeline and save it with save_pretrained."""

from _logging import setup

log = setup(snakemake)  # noqa: F821
# torch comes after setup chose the GPU: CUDA reads CUDA_VISIBLE_DEVICES when it starts.
import torch

from cdga.core import device
from cdga.generation import demo_ldm

torch.set_num_threads(snakemake.threads)  # noqa: F821
demo_ldm.train(
    pretrain_dir=snakemake.input[0],  # noqa: F821
    out_dir=snakemake.output[0],  # noqa: F821
    options=snakemake.params.options,  # noqa: F821
    work_dir=snakemake.params.work_dir,  # noqa: F821
    device=device.resolve(snakemake.config["device"]),  # noqa: F821
)
