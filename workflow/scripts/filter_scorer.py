"""Rule filter_scorer: the filter's class classifier for one (dataset, test domain), trained on
the real training split of the training domains only (leakage-checked first)."""

from _logging import setup

log = setup(snakemake)  # noqa: F821
# torch comes after setup chose the GPU: CUDA reads CUDA_VISIBLE_DEVICES when it starts.
import pandas as pd
import torch

from cdga.core import device
from cdga.core.io import write_csv
from cdga.filtering import keep as filtering
from cdga.filtering import scorer
from cdga.training import loader as data

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
opts = sm.params.scorer
split = pd.read_csv(sm.input.split)
rows = filtering.scorer_rows(split, sm.wildcards.test_env, opts["max_real_per_domain"], opts["seed"])
filtering.check_scorer_rows(rows, split, sm.wildcards.test_env)
log.info("scorer (%s): %d real training images of %s",
         "linear probe on " + opts["backbone"] if scorer.is_probe(opts) else opts["backbone"],
         len(rows), sorted(set(rows["domain"])))
cfg = sm.config["filtering"]  # execution settings only: eval_batch_size, num_workers
where = device.resolve(sm.config["device"])
workers = data.num_workers(cfg["num_workers"])
model = scorer.train(rows, int(split["class_index"].max()) + 1, opts, where,
                     cfg["eval_batch_size"], workers)
val = split[(split["domain"] != sm.wildcards.test_env) & (split["split"] == "val")]
if opts["max_real_per_domain"] is not None:  # as many per domain as the scorer trained on, at most
    val = val.groupby("domain", sort=False).head(opts["max_real_per_domain"])
if len(val):
    log.info("scorer accuracy on the training domains' validation split: %.3f (%d images)",
             scorer.accuracy(model, val, opts["resolution"], cfg["eval_batch_size"], workers,
                             where), len(val))
write_csv(sm.output.rows, rows)
scorer.save(sm.output.model, model, opts["resolution"], test_env=sm.wildcards.test_env)
