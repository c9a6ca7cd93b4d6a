"""Rule make_demo_digits: render DemoDigits and its pretraining corpus."""

from _logging import setup

from cdga.data import demo_digits

log = setup(snakemake)  # noqa: F821
opts = snakemake.params.options  # noqa: F821
demo_digits.build(
    out_dir=snakemake.output.dataset,  # noqa: F821
    pretrain_dir=snakemake.output.pretrain,  # noqa: F821
    descriptions=snakemake.params.descriptions,  # noqa: F821
    prompt_template=snakemake.params.prompt_template,  # noqa: F821
    resolution=opts["resolution"],
    pretrain_fraction=opts["pretrain_fraction"],
    seed=opts["seed"],
)
log.info("wrote %s and %s", snakemake.output.dataset, snakemake.output.pretrain)  # noqa: F821
