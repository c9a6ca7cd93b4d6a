"""Quality of the synthetic images, measured with small classifiers trained on real images.

Per (dataset, variant, source, target): the share a domain classifier assigns to the target
domain (domain transfer), the share a class classifier assigns to the source's class (class
fidelity), and the share whose SSIM to their source image exceeds a threshold (near-duplicates,
the paper's "no real change" failure). Both classifiers are trained on the real training split
only; their accuracy on the real validation split is reported next to the rates.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from skimage.metrics import structural_similarity

from cdga.data.shards import TarShard
from cdga.generation import variants as registered_variants
from cdga.generation.images import load_image, square
from cdga.report import figures
from cdga.training.networks import Classifier

log = logging.getLogger(__name__)
PAIR_KEYS = ["dataset", "variant", "source_domain", "target_domain"]
SUMMARY_COLUMNS = [
    "dataset", "variant", "source", "target", "n", "target_domain_rate", "class_kept_rate",
    "near_duplicate_rate", "mean_ssim", "domain_classifier_val_acc", "class_classifier_val_acc",
]


def to_tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 HxWx3 arrays -> float tensor (N, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


def random_shift(x: torch.Tensor, pixels: int, gen: torch.Generator) -> torch.Tensor:
    """Shift every image by its own random offset of up to ``pixels`` (edges replicated)."""
    if pixels == 0:
        return x
    size = x.shape[-1]
    padded = F.pad(x, (pixels,) * 4, mode="replicate")
    dy, dx = torch.randint(0, 2 * pixels + 1, (2, len(x)), generator=gen)
    return torch.stack([p[:, a : a + size, b : b + size] for p, a, b in zip(padded, dy.tolist(), dx.tolist())])


def train_classifier(x: torch.Tensor, y: torch.Tensor, num_classes: int, opts: Mapping,
                     device: torch.device | str = "cpu") -> Classifier:
    """Train a ``opts['backbone']`` classifier from scratch on ``device`` on (x, y) with Adam and
    random shifts (drawn on the CPU, so every device trains on the same batches)."""
    torch.manual_seed(opts["seed"])
    model = Classifier(opts["backbone"], num_classes, weights=None).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=opts["lr"])
    gen = torch.Generator().manual_seed(opts["seed"])
    model.train()
    for _ in range(opts["epochs"]):
        for idx in torch.randperm(len(x), generator=gen).split(opts["batch_size"]):
            batch = random_shift(x[idx], opts["shift"], gen).to(device)
            loss = F.cross_entropy(model(batch), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def predict(model: Classifier, x: torch.Tensor, device: torch.device | str = "cpu",
            batch_size: int = 256) -> np.ndarray:
    """Predicted labels of ``x``, scored in batches on ``device`` (the model's)."""
    return torch.cat([model(chunk.to(device)).argmax(1).cpu() for chunk in x.split(batch_size)]).numpy()


def read_manifests(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Every row of the manifests at ``paths`` in one frame (small studies and tests; a
    paper-scale job reads ``read_sample`` instead)."""
    frames = [pd.read_csv(p, keep_default_na=False) for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def draw_keys(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """A seeded pseudo-random uint64 per row, a hash of the row's identity (a synthetic row's
    member and rep, a real row's path) and ``seed``: the same row gets the same key whichever
    other rows are read with it, so a sample can be drawn one manifest at a time."""
    identity = ["member", "rep"] if "member" in frame else ["path"]
    return pd.util.hash_pandas_object(frame[identity].astype(str), index=False,
                                      hash_key=f"{seed & 0xFFFFFFFFFFFFFFFF:016x}").to_numpy()


def _lowest(frame: pd.DataFrame, keys: Sequence[str], limit: int) -> pd.DataFrame:
    """The ``limit`` rows of each ``keys`` group with the smallest ``_draw`` (ties: ``_pos``)."""
    ranked = frame.sort_values(["_draw", "_pos"], kind="stable")
    return ranked.groupby(list(keys), sort=False).head(limit)


def capped(frame: pd.DataFrame, keys: Sequence[str], limit: int | None, seed: int) -> pd.DataFrame:
    """At most ``limit`` rows per ``keys`` group, drawn with ``seed`` (all rows when limit is
    None), in ``frame``'s order: per group the rows with the smallest ``draw_keys``."""
    if limit is None:
        return frame
    drawn = frame[list(keys)].assign(_draw=draw_keys(frame, seed), _pos=np.arange(len(frame)))
    return frame.iloc[np.sort(_lowest(drawn, keys, limit)["_pos"].to_numpy())]


GRID_KEYS = ["variant", "source_domain", "target_domain", "rep", "class_index"]


def grid_candidates(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (variant, pair, rep, class) the row with the first source path: every row that
    ``grid_figure`` can show when a pair's variants share their source images (generation
    makes each pair's images from the same source split whatever the variant)."""
    ranked = frame.sort_values("source_path", kind="stable")
    return ranked.groupby(GRID_KEYS, sort=False).head(1)


def read_sample(paths: Sequence[str | Path], limit: int | None, seed: int,
                batch_rows: int = 200_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(``capped(read_manifests(paths), PAIR_KEYS, limit, seed)``, the ``grid_candidates`` of
    all rows), read one manifest at a time: at most ``limit`` rows per pair, the grid's
    candidates and about ``batch_rows`` unreduced rows are held at once, however many
    manifests there are. Rows keep the manifests' order; the index is 0..n-1."""
    held = grid = None
    pending: list[pd.DataFrame] = []
    pos = start = 0

    def reduce() -> tuple[pd.DataFrame, pd.DataFrame]:
        new = pd.concat(pending, ignore_index=True)
        if limit is not None:
            new["_draw"] = draw_keys(new, seed)
        rows = new if held is None else pd.concat([held, new], ignore_index=True)
        candidates = grid_candidates(new if grid is None else pd.concat([grid, new], ignore_index=True))
        return (rows if limit is None else _lowest(rows, PAIR_KEYS, limit)), candidates

    for path in paths:
        frame = pd.read_csv(path, keep_default_na=False)
        pending.append(frame.assign(_pos=np.arange(pos, pos + len(frame))))
        pos += len(frame)
        if pos - start >= batch_rows:
            held, grid = reduce()
            pending, start = [], pos
    if pending:
        held, grid = reduce()
    if held is None:
        return pd.DataFrame(), pd.DataFrame()
    sample, candidates = held.sort_values("_pos"), grid.sort_values("_pos")
    helpers = ["_pos", "_draw"]
    return (sample.drop(columns=helpers, errors="ignore").reset_index(drop=True),
            candidates.drop(columns=helpers, errors="ignore").reset_index(drop=True))


def synthetic_images(manifest: pd.DataFrame, resolution: int) -> list[np.ndarray]:
    """The manifest's images, read from their tar shards at the scoring ``resolution`` (the
    generated size, e.g. 512 px, is not the size the scorers were trained at)."""
    shards: dict[str, TarShard] = {}
    out = []
    for shard, member in zip(manifest["shard"], manifest["member"]):
        tar = shards.setdefault(shard, TarShard(shard))
        out.append(np.asarray(square(tar.image(member), resolution)))
    return out


@dataclass(frozen=True)
class Scorers:
    """The domain and class classifiers of one dataset and their real validation accuracies."""

    domains: tuple[str, ...]
    domain: Classifier
    cls: Classifier
    accuracies: dict[str, float]
    resolution: int


def train_scorers(table: pd.DataFrame, domains: Sequence[str], opts: Mapping, resolution: int,
                  device: torch.device | str = "cpu") -> Scorers:
    """Train the domain and class classifiers on ``table``'s real training split (at most
    ``opts['max_real_per_domain']`` images per domain and split, a seeded sample) on ``device``."""
    table = capped(table, ["domain", "split"], opts["max_real_per_domain"], opts["seed"])
    real = table.assign(image=[np.asarray(load_image(p, resolution)) for p in table["path"]])
    train, val = real[real["split"] == "train"], real[real["split"] == "val"]
    dom_index = {d: i for i, d in enumerate(domains)}
    num_classes = int(table["class_index"].max()) + 1
    accs, models = {}, {}
    for task, labels, k in (("domain", lambda f: f["domain"].map(dom_index), len(domains)),
                            ("class", lambda f: f["class_index"], num_classes)):
        model = train_classifier(to_tensor(list(train["image"])),
                                 torch.tensor(labels(train).to_numpy()), k, opts, device)
        val_pred = predict(model, to_tensor(list(val["image"])), device)
        accs[task] = float((val_pred == labels(val).to_numpy()).mean())
        models[task] = model
        log.info("%s classifier: validation accuracy %.3f", task, accs[task])
    return Scorers(tuple(domains), models["domain"], models["class"], accs, resolution)


def score(scorers: Scorers, manifest: pd.DataFrame, opts: Mapping, keys: Sequence[str] = PAIR_KEYS,
          device: torch.device | str = "cpu") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-``keys`` summary, per-image scores) of every image of ``manifest`` (read from its
    shards, whatever their image format) under ``scorers``."""
    res = scorers.resolution
    fake = synthetic_images(manifest, res)
    x = to_tensor(fake)
    sources = {p: np.asarray(load_image(p, res)) for p in manifest["source_path"].unique()}
    ssim = [structural_similarity(sources[p], img, channel_axis=2, data_range=255)
            for p, img in zip(manifest["source_path"], fake)]
    scores = manifest.assign(
        domain_pred=[scorers.domains[i] for i in predict(scorers.domain, x, device)],
        class_pred=predict(scorers.cls, x, device),
        ssim=ssim,
    )
    scores["in_target"] = scores["domain_pred"] == scores["target_domain"]
    scores["class_kept"] = scores["class_pred"] == scores["class_index"]
    scores["near_duplicate"] = scores["ssim"] > opts["near_duplicate_ssim"]
    summary = (
        scores.groupby(list(keys), sort=True)
        .agg(n=("member", "size"), target_domain_rate=("in_target", "mean"),
             class_kept_rate=("class_kept", "mean"), near_duplicate_rate=("near_duplicate", "mean"),
             mean_ssim=("ssim", "mean"))
        .reset_index()
        .rename(columns={"source_domain": "source", "target_domain": "target"})
    )
    summary["domain_classifier_val_acc"] = scorers.accuracies["domain"]
    summary["class_classifier_val_acc"] = scorers.accuracies["class"]
    return summary, scores


def evaluate(table: pd.DataFrame, manifest: pd.DataFrame, domains: Sequence[str], opts: Mapping,
             resolution: int, device: torch.device | str = "cpu") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-pair summary, per-image scores) of ``manifest``'s images; the classifiers train and
    score on ``device``.

    ``opts['max_images_per_pair']`` and ``opts['max_real_per_domain']`` cap what is read, so a
    paper-scale dataset is scored from a seeded sample instead of millions of images.
    """
    scorers = train_scorers(table, domains, opts, resolution, device)
    manifest = capped(manifest, PAIR_KEYS, opts["max_images_per_pair"], opts["seed"])
    summary, scores = score(scorers, manifest, opts, PAIR_KEYS, device)
    return summary[SUMMARY_COLUMNS], scores


def example_sources(pair: pd.DataFrame, examples: int) -> list[str]:
    """Up to ``examples`` source images of one pair, each of another class, classes spread evenly."""
    per_class = pair.sort_values("source_path").groupby("class_index")["source_path"].first()
    picks = np.unique(np.linspace(0, len(per_class) - 1, min(examples, len(per_class))).round().astype(int))
    return list(per_class.iloc[picks])


def grid_figure(manifest: pd.DataFrame, out_png: str | Path, out_pdf: str | Path,
                examples: int, resolution: int) -> None:
    """Per ordered pair, a row of ``examples`` triples: real source, then each variant's output."""
    figures.style()
    variants = sorted(manifest["variant"].unique(), key=list(registered_variants.VARIANTS).index)
    first = manifest[manifest["rep"] == manifest["rep"].min()]
    rows = sorted(first.groupby(["source_domain", "target_domain"]).groups, key=lambda p: (p[0] == p[1], p))
    cols = examples * (1 + len(variants))
    fig, axes = plt.subplots(len(rows), cols, figsize=(0.9 * cols, 0.95 * len(rows)), squeeze=False)
    for r, (src, tgt) in enumerate(rows):
        pair = first[(first["source_domain"] == src) & (first["target_domain"] == tgt)]
        sources = example_sources(pair, examples)
        for e, path in enumerate(sources):
            panels = [("real", np.asarray(load_image(path, resolution)))]
            for v in variants:
                hit = pair[(pair["variant"] == v) & (pair["source_path"] == path)]
                panels.append((v.upper(), synthetic_images(hit.head(1), resolution)[0] if len(hit) else None))
            for p, (title, img) in enumerate(panels):
                ax = axes[r, e * len(panels) + p]
                if img is not None:
                    ax.imshow(img)
                else:
                    ax.axis("off")  # the within-domain pairs have the first variant only
                if r == 0:
                    ax.set_title(title, fontsize=7)
        axes[r, 0].set_ylabel(f"{src}\n→ {tgt}", fontsize=6, rotation=0, ha="right", va="center")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout(pad=0.2)
    figures.save(fig, out_png, out_pdf)
