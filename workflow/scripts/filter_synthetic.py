"""Rule filter_synthetic: score one (dataset, variant, test domain)'s synthetic images with its
scorer and keep or drop each by the config's rule."""

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
from cdga.training.assembly import read_synthetic

sm = snakemake  # noqa: F821
wc = sm.wildcards
torch.set_num_threads(sm.threads)
cfg = sm.config["filtering"]  # execution settings only: eval_batch_size, num_workers
split = pd.read_csv(sm.input.split)
synthetic = read_synthetic(sm.input.manifests)
filtering.check_scorer_rows(pd.read_csv(sm.input.rows), split, wc.test_env, synthetic)
model, resolution = scorer.load(sm.input.model)
scores = scorer.score(model, synthetic, resolution, cfg["eval_batch_size"],
                      data.num_workers(cfg["num_workers"]), device.resolve(sm.config["device"]))
scores = scores.assign(dataset=wc.dataset, test_env=wc.test_env,
                       keep=filtering.decide(scores, sm.params.rule).to_numpy())
write_csv(sm.output[0], scores[filtering.DECISION_COLUMNS])
shares = filtering.kept_shares(scores, filtering.PAIR)
log.info("rule %s: kept %d of %d\n%s", sm.params.rule, int(scores["keep"].sum()), len(scores),
         shares.to_string(index=False))
