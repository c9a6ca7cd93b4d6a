"""Rule filter_scorer: the filter's class classifier for one (dataset, test domain), trained on
the real training split of the training domains only (leakage-checked first)."""

from _logging import setup

log = setup(snakemake)  # noqa: F821
# torch comes after setup chose the GPU: CUDA reads CUDA_VISIBLE_DEVICES when it starts.
import pandas as pd
import torch

from cdga import device, filtering
from cdga import filter_scorer as scorer
from cdga.io import write_csv
from cdga.networks import save_model

sm = snakemake  # noqa: F821
torch.set_num_threads(sm.threads)
opts = sm.params.scorer
split = pd.read_csv(sm.input.split)
rows = filtering.scorer_rows(split, sm.wildcards.test_env, opts["max_real_per_domain"], opts["seed"])
filtering.check_scorer_rows(rows, split, sm.wildcards.test_env)
log.info("scorer: %d real training images of %s", len(rows), sorted(set(rows["domain"])))
model = scorer.train(rows, int(split["class_index"].max()) + 1, opts,
                     device.resolve(sm.config["device"]))
write_csv(sm.output.rows, rows)
save_model(sm.output.model, model, resolution=opts["resolution"], test_env=sm.wildcards.test_env)
