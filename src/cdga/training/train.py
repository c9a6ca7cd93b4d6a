"""One DomainBed-protocol training run: a method, a held-out test domain, a trial.

Every ``checkpoint_freq`` steps (and at the last step) the run evaluates accuracy and loss on
the training ('in') and validation ('out') split of every domain, appends the record to
``results.jsonl`` (with DomainBed's fields, ``cdga.training.domainbed``), keeps the weights each
model-selection rule chooses, and saves a resume state (model, optimiser, AMP scaler, RNG,
step, records). A killed run restarts from that state and ends with the same ``results.jsonl``
an uninterrupted run writes: the data sampler's state is the step number (see ``cdga.training.loader``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Mapping
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from cdga.core import methods
from cdga.core.io import save_torch, write_text
from cdga.training import algorithms, decoding, domainbed, selection
from cdga.training import loader as data
from cdga.training.networks import Classifier, save_model

log = logging.getLogger(__name__)
STATE_DIR = "state"
# The manifest columns a run reads, and their dtypes: categories for the few-valued columns, so
# that the frame read is small while the run's arrays are built from it (then it is dropped).
COLUMNS = {"path": object, "shard": "category", "class_index": np.int64, "domain": "category",
           "split": "category", "role": "category", "origin": "category"}


class StopRequested(RuntimeError):
    """Raised after ``stop_after`` steps, to simulate a killed job in tests."""


def trial_seed(base_seed: int, trial: int) -> int:
    """The seed of one trial: model initialisation, minibatch sampling and augmentation."""
    return int(np.random.SeedSequence([base_seed, trial]).generate_state(1)[0])


def _fingerprint(manifest: Path, settings: Mapping) -> str:
    with open(manifest, "rb") as f:
        digest = hashlib.file_digest(f, "sha256")  # streamed: a manifest may hold millions of rows
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


class Evaluator:
    """Accuracy and loss of every domain's 'in' and 'out' split, in one pass over the rows."""

    def __init__(self, rows: pd.DataFrame, resolution: int, batch_size: int, workers: int,
                 device: torch.device, cache: bool, prefetch_factor: int = 2,
                 persistent_workers: bool = False, jpeg_draft: bool = False,
                 device_decode: bool = False) -> None:
        # each row's (domain, split) group as integer codes: no per-row Python objects kept
        self.domains, self.domain_names = pd.factorize(rows["domain"], sort=True)
        self.splits, self.split_names = pd.factorize(
            rows["split"].astype(str).map({"train": "in", "val": "out"}), sort=True)
        draft = resolution if jpeg_draft else None  # decode-then-resize: a reduced JPEG scale covers it
        images = decoding.rows_dataset(rows, data.eval_transform(resolution, device_decode), device_decode,
                                       cache, draft)
        self.loader = decoding.batches(images, device, batch_size=batch_size,
                                       **data.loader_options(workers, device, prefetch_factor, persistent_workers))
        self.device = device

    @torch.no_grad()
    def __call__(self, algorithm: algorithms.Algorithm) -> dict[str, float]:
        algorithm.eval()
        correct, losses = [], []
        for x, y in self.loader:
            x, y = to_device(x, y, self.device)
            with autocast_for(self.device):
                logits = algorithm.predict(x)
            losses.append(F.cross_entropy(logits.float(), y, reduction="none").cpu())
            correct.append((logits.argmax(1) == y).cpu())
        algorithm.train()
        frame = pd.DataFrame({
            "domain": np.asarray(pd.Categorical.from_codes(self.domains, self.domain_names)),
            "split": np.asarray(pd.Categorical.from_codes(self.splits, self.split_names))})
        frame["correct"] = torch.cat(correct).double().numpy()
        frame["loss"] = torch.cat(losses).double().numpy()
        out = {}
        for (domain, split), g in frame.groupby(["domain", "split"], sort=True):
            out[selection.acc_key(domain, split)] = float(g["correct"].mean())
            out[selection.loss_key(domain, split)] = float(g["loss"].mean())
        return out


def to_device(x: torch.Tensor, y: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch on ``device``; channels_last images on CUDA."""
    x = x.to(device, non_blocking=True)
    if device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y.to(device, non_blocking=True)


def autocast_for(device: torch.device) -> torch.autocast | nullcontext:
    """fp16 autocast on CUDA; a no-op context elsewhere."""
    return torch.autocast("cuda", dtype=torch.float16) if device.type == "cuda" else nullcontext()


def per_domain_batches(x: torch.Tensor, y: torch.Tensor, per_domain: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Split a step's concatenated batch back into its training domains' minibatches."""
    return [(x[k:k + per_domain], y[k:k + per_domain]) for k in range(0, len(x), per_domain)]


def _streams(manifest: pd.DataFrame, train_envs: list[str], counts: tuple[int, int],
             filtered: bool = False) -> list[data.Stream]:
    """Per training domain: its real rows, then its synthetic rows (target domain). For a
    filtered method (``filtered``) a domain of which the filter kept no synthetic image draws
    its whole per-domain batch from its real rows (``cdga.filtering.keep.empty_pairs`` reports it)."""
    train = manifest[manifest["role"] == "train"]
    streams = []
    for env in train_envs:
        real, synthetic = (
            np.flatnonzero(((train["domain"] == env) & (train["origin"] == origin)).to_numpy())
            for origin in ("real", "synthetic"))
        real_count, synthetic_count = counts
        if filtered and synthetic_count and not len(synthetic):
            log.warning("training domain %r: the filter kept no synthetic image; its batches "
                        "are real images only", env)
            real_count, synthetic_count = real_count + synthetic_count, 0
        for origin, rows, count in (("real", real, real_count),
                                    ("synthetic", synthetic, synthetic_count)):
            if count and not len(rows):
                raise ValueError(f"training domain {env!r} has no {origin} training rows")
            streams.append(data.Stream(rows, count))
    return streams


def read_manifest(path: Path) -> pd.DataFrame:
    """The columns of an assembled manifest that a run reads (``COLUMNS``)."""
    return pd.read_csv(path, keep_default_na=False, usecols=lambda c: c in COLUMNS,
                       dtype={c: t for c, t in COLUMNS.items() if c != "path"})


def train(manifest_path: str | Path, out_dir: str | Path, *, dataset: str, method: str,
          test_env: str, level: int, trial: int, cfg: Mapping, holdout_fraction: float,
          hparams_seed: int = 0, workers: int = 0, eval_batch_size: int = 256,
          cache_images: bool = False, device: torch.device | str = "cpu",
          prefetch_factor: int = 2, persistent_workers: bool = False, jpeg_draft: bool = False,
          decode: str = "auto", stop_after: int | None = None) -> list[dict]:
    """Run (or resume) one training job; write results.jsonl and the selected models in out_dir.

    ``cfg`` is what the run reads of the config's ``training`` block
    (``cdga.core.hparams.job_settings``: shared settings, the algorithm's hyperparameters of draw
    ``hparams_seed``, ``synthetic_ratio`` for methods with synthetic images); it and the
    manifest make the resume fingerprint. ``holdout_fraction`` is the split's (config
    ``split``), recorded for DomainBed (``cdga.training.domainbed``). Execution settings, in no
    fingerprint: ``workers`` (DataLoader workers), ``eval_batch_size``, ``cache_images`` (keep
    decoded images in memory), ``device`` (``cdga.core.device.resolve``), where the model and
    every batch go, and the loaders' ``prefetch_factor``, ``persistent_workers`` (the
    evaluation loader's), ``jpeg_draft`` (the evaluation loader's, ``cdga.training.loader.open_rgb``)
    and ``decode`` (where JPEGs are decoded, ``cdga.training.decoding.on_device``). ``stop_after``
    raises StopRequested once that many steps are done and checkpointed (tests use it to kill a
    run).
    Returns the records.
    """
    manifest_path, out_dir = Path(manifest_path), Path(out_dir)
    manifest = read_manifest(manifest_path)
    spec = methods.method(method)
    real = manifest[manifest["origin"] == "real"]
    domains = domainbed.environments(dataset, set(real["domain"]))
    if test_env not in domains:
        raise ValueError(f"test domain {test_env!r} not in manifest {str(manifest_path)!r}")
    train_envs = sorted(d for d in domains if d != test_env)  # stream order: alphabetical
    has_synthetic = bool((manifest["origin"] == "synthetic").any())
    uses_synthetic = spec.synthetic is not None and level > 0
    if spec.filtered and uses_synthetic and not has_synthetic:
        log.warning("manifest %s: the filter kept no synthetic image; %s trains on real images "
                    "only", manifest_path, method)
    elif has_synthetic != uses_synthetic:
        raise ValueError(f"manifest {str(manifest_path)!r} {'has' if has_synthetic else 'lacks'} "
                         f"synthetic rows, but method {method!r} at scale level {level} "
                         f"{'uses' if not has_synthetic else 'does not use'} them")
    counts = data.split_counts(cfg["batch_size"], cfg.get("synthetic_ratio", 0.0), has_synthetic)
    seed = trial_seed(cfg["seed"], trial)
    dev = torch.device(device)
    on_device = decoding.on_device(decode)
    settings = {"cfg": dict(cfg), "method": method, "test_env": test_env, "trial": trial,
                "level": level, "dataset": dataset, "holdout_fraction": holdout_fraction,
                "hparams_seed": hparams_seed}
    fingerprint = _fingerprint(manifest_path, settings)
    meta = {"dataset": dataset, "method": method, "test_env": test_env, "level": level,
            "trial": trial, "hparams_seed": hparams_seed, "seed": seed, "domains": domains}
    fields = domainbed.run_fields(dataset, method, test_env, domains, trial, hparams_seed,
                                  holdout_fraction, cfg)
    num_classes = int(real["class_index"].max()) + 1
    # The run's rows as arrays (training rows, sampler streams, evaluation rows); the frame
    # goes, so that the main process and its forked workers hold only the arrays.
    streams = _streams(manifest, train_envs, counts, spec.filtered)
    train_images = decoding.rows_dataset(manifest[manifest["role"] == "train"].reset_index(drop=True),
                                         data.train_transform(cfg["resolution"], cfg["augment"], on_device),
                                         on_device, cache_images)
    evaluate = Evaluator(real.reset_index(drop=True), cfg["resolution"], eval_batch_size, workers, dev,
                         cache_images, prefetch_factor, persistent_workers, jpeg_draft, on_device)
    del manifest, real

    torch.manual_seed(seed)
    network = Classifier(cfg["backbone"], num_classes, cfg["weights"])
    algorithm = algorithms.ALGORITHMS[spec.algorithm](network, cfg).to(dev)
    if dev.type == "cuda":
        algorithm.to(memory_format=torch.channels_last)
    scaler = torch.amp.GradScaler("cuda") if dev.type == "cuda" else None

    state_dir = out_dir / STATE_DIR
    state_path = state_dir / "checkpoint.pt"
    start, records, best = 0, [], {}
    if state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        if state["fingerprint"] == fingerprint:
            algorithm.load_state_dict(state["model"])
            algorithm.optimizer.load_state_dict(state["optimizer"])
            if scaler is not None and state["scaler"] is not None:
                scaler.load_state_dict(state["scaler"])
            torch.set_rng_state(state["rng"])
            if dev.type == "cuda" and state["cuda_rng"] is not None:
                torch.cuda.set_rng_state(state["cuda_rng"])
            start, records, best = state["step"], state["records"], state["best"]
            log.info("resuming %s from step %d", out_dir, start)
        else:
            log.info("discarding resume state %s: settings or manifest changed", state_path)
            shutil.rmtree(state_dir)

    sampler = data.StepSampler(streams, seed, start, cfg["steps"])
    smallest_real = min(len(s.rows) for s in streams[::2])  # DomainBed's 'epoch' unit
    loader = decoding.batches(train_images, dev, batch_sampler=sampler,
                              **data.loader_options(workers, dev, prefetch_factor))  # one pass: not persistent
    per_domain = sum(counts)
    losses: list[float] = []
    for step, (x, y) in zip(range(start, cfg["steps"]), loader, strict=False):
        x, y = to_device(x, y, dev)
        rng = np.random.default_rng([seed, step, 1])
        losses.append(algorithm.update(per_domain_batches(x, y, per_domain), rng, scaler,
                                       autocast_for(dev) if dev.type == "cuda" else None))
        if step % cfg["checkpoint_freq"] and step != cfg["steps"] - 1:
            continue
        accuracies = evaluate(algorithm)
        record = {**meta, **fields, "step": step, "epoch": (step + 1) * counts[0] / smallest_real,
                  "loss": float(np.mean(losses)), **accuracies,
                  **domainbed.env_accuracies(accuracies, domains)}
        losses = []
        records.append(record)
        for name in selection.SELECTIONS:
            score = selection.SELECTIONS[name](record)
            if name not in best or score > best[name]:
                best[name] = score
                save_model(state_dir / f"model_{name}.pt", network, **meta, selection=name,
                           step=step, score=score, test_acc=selection.reported_accuracy(record))
        _save_state(state_path, algorithm, scaler, dev, step + 1, records, best, fingerprint)
        _write_results(out_dir, records)
        log.info("step %d loss %.4f test(in) acc %.4f", step, record["loss"],
                 selection.reported_accuracy(record))
        if stop_after is not None and step + 1 >= stop_after and step + 1 < cfg["steps"]:
            raise StopRequested(f"stopped after step {step} as requested")
    if not records:
        raise RuntimeError(f"training run {out_dir} made no checkpoint (steps={cfg['steps']})")
    _write_results(out_dir, records)
    for name in selection.SELECTIONS:
        shutil.copyfile(state_dir / f"model_{name}.pt", out_dir / f"model_{name}.pt")
    shutil.rmtree(state_dir)
    return records


def _write_results(out_dir: Path, records: list[dict]) -> None:
    """Rewrite results.jsonl atomically from the records: one line per checkpoint, in order."""
    write_text(out_dir / "results.jsonl",
               "".join(json.dumps(r, sort_keys=True) + "\n" for r in records))


def _save_state(path: Path, algorithm: algorithms.Algorithm, scaler: torch.amp.GradScaler | None,
                device: torch.device, step: int, records: list, best: dict,
                fingerprint: str) -> None:
    state = {
        "model": algorithm.state_dict(), "optimizer": algorithm.optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state() if device.type == "cuda" else None,
        "step": step, "records": records, "best": best, "fingerprint": fingerprint,
    }
    save_torch(path, state)
