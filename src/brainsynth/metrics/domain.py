"""A domain feature space for FD/KID: a small CNN encoder learned from real MR slices only.

ImageNet features (Inception-v3) make numbers comparable with the literature but were never
taught what a brain looks like; the handcrafted features weigh the black background heavily.
The domain encoder is trained on *real* images only to predict what the prepared set knows
about each slice: its sequence (T1, T1c, T2, FLAIR; when more than one is present), its
position in the slice range, whether it shows tumour (when the set has segmentations), and,
always, by how many quarter turns it was rotated (self-supervised, Gidaris et al. 2018), so
a set without labels still trains it. Its penultimate layer (global average pool of the last
conv block) is the feature space. The encoder is saved as a ``torch.save`` dict of tensors
and plain values (loaded with ``weights_only=True``; never a pickled module), so two models
are compared in one space with ``evaluate --domain-encoder PATH``.
"""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from brainsynth.errors import BrainsynthError

DOMAIN_SPACE = (
    "domain CNN encoder, 128-d penultimate features (trained on real slices only: sequence, "
    "slice position, tumour, rotation)"
)
FORMAT = "brainsynth-domain-encoder-1"
ENCODER_KEYS = ("state_dict", "heads", "width", "channels", "image_size")
ENCODER_LIMITS = {"width": (1, 256), "channels": (1, 4), "image_size": (4, 4096)}
"""Bounds of an encoder file's settings: width 256 (16 x the default) is ~100 MB of weights."""
MAX_ENCODER_BYTES = 512 * 2**20
MAX_HEADS, MAX_HEAD_OUTPUTS = 16, 1024


class DomainEncoder(nn.Module):
    """Four strided conv blocks, global average pooling, one linear head per task."""

    def __init__(self, heads: dict[str, int], width: int = 16, channels: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(4):
            out = width * 2**i
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.BatchNorm2d(out),
                       nn.LeakyReLU(0.2)]  # fmt: skip
            channels = out
        self.body = nn.Sequential(*layers)
        self.heads = nn.ModuleDict({name: nn.Linear(channels, n) for name, n in heads.items()})

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x * 2 - 1).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.embed(x)
        return {name: head(h) for name, head in self.heads.items()}


def domain_targets(channels: np.ndarray, labels: dict[str, np.ndarray] | None) -> dict:
    """Supervised targets available for the real images: ``sequence`` (class ids, when more
    than one sequence is present), ``position`` (float in [0, 1]) and ``tumor`` (0/1)."""
    targets: dict[str, np.ndarray] = {}
    channels = np.asarray(channels)
    if len(np.unique(channels)) > 1:
        targets["sequence"] = np.unique(channels, return_inverse=True)[1].astype(np.int64)
    for name, values in (labels or {}).items():
        values = np.asarray(values)
        if values is not None and len(np.unique(values)) > 1:
            targets[name] = values
    return targets


def _loss(outputs: dict, targets: dict, rotation: torch.Tensor) -> torch.Tensor:
    ce, mse = nn.functional.cross_entropy, nn.functional.mse_loss
    loss = ce(outputs["rotation"], rotation)
    for name, value in targets.items():
        if name == "position":
            loss = loss + mse(torch.sigmoid(outputs[name][:, 0]), value.float())
        else:
            loss = loss + ce(outputs[name], value.long())
    return loss


def _rotated(x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    turns = torch.randint(0, 4, (len(x),), generator=generator)
    out = x.clone()
    for k in range(1, 4):
        chosen = turns == k
        out[chosen] = torch.rot90(x[chosen], k, dims=(2, 3))
    return out, turns


def train_domain_encoder(
    images: np.ndarray,
    groups: np.ndarray,
    targets: dict[str, np.ndarray],
    seed: int = 0,
    max_epochs: int = 15,
    patience: int = 3,
    batch_size: int = 64,
    width: int = 16,
) -> tuple[DomainEncoder, dict[str, Any]]:
    """Train on (N, C, H, W) real images in [0, 1]; early stopping on a patient-disjoint
    validation fifth of the patients (best weights kept)."""
    from brainsynth.metrics.c2st import group_split

    heads = {"rotation": 4}
    for name, value in targets.items():
        heads[name] = 1 if name == "position" else int(np.max(value)) + 1
    torch.manual_seed(seed)
    model = DomainEncoder(heads, width, int(images.shape[1]))
    rng = np.random.default_rng(seed)
    split = group_split(groups, 0.0, 0.2, rng) if len(np.unique(groups)) >= 3 else None
    is_val = split == 2 if split is not None else np.zeros(len(images), bool)
    x = torch.from_numpy(np.asarray(images, np.float32))
    t = {k: torch.from_numpy(np.asarray(v)) for k, v in targets.items()}
    optim = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(seed)
    train_idx = torch.from_numpy(np.flatnonzero(~is_val))
    val_idx = torch.from_numpy(np.flatnonzero(is_val))
    val_x, val_rot = _rotated(x[val_idx], torch.Generator().manual_seed(seed + 1))
    best, best_state, since, epochs = float("inf"), None, 0, 0
    for epoch in range(1, max_epochs + 1):
        epochs = epoch
        model.train()
        order = train_idx[torch.randperm(len(train_idx), generator=generator)]
        for i in range(0, len(order), batch_size):
            batch = order[i : i + batch_size]
            if len(batch) < 2:
                continue
            xb, rot = _rotated(x[batch], generator)
            optim.zero_grad()
            _loss(model(xb), {k: v[batch] for k, v in t.items()}, rot).backward()
            optim.step()
        if len(val_idx) == 0:
            continue
        model.eval()
        with torch.no_grad():
            val = float(_loss(model(val_x), {k: v[val_idx] for k, v in t.items()}, val_rot))
        if val < best - 1e-3:
            best, best_state, since = val, copy.deepcopy(model.state_dict()), 0
        else:
            since += 1
            if since >= patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    info = {"epochs": epochs, "val_loss": best if np.isfinite(best) else None,
            "tasks": sorted(heads), "n_images": int(len(images))}  # fmt: skip
    return model, info


def save_encoder(model: DomainEncoder, path: Path, image_size: int, info: dict) -> Path:
    """Write the encoder's weights and its settings (no pickled module)."""
    heads = {name: int(head.out_features) for name, head in model.heads.items()}
    width = int(model.body[0].out_channels)
    channels = int(model.body[0].in_channels)
    record = {
        "format": FORMAT, "state_dict": model.state_dict(), "heads": heads, "width": width,
        "channels": channels, "image_size": int(image_size), "info": info,
    }  # fmt: skip
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(record, path)
    return path


def load_encoder(path: str | Path, image_size: int, channels: int = 1) -> DomainEncoder:
    """An encoder saved by :func:`save_encoder`, validated whole (see :func:`read_encoder`)
    and checked against the images it will embed; a one-line error otherwise."""
    record = read_encoder(path)
    check_encoder_fits(record, path, image_size, channels)
    return build_encoder(record, path)


def build_encoder(record: dict[str, Any], path: str | Path) -> DomainEncoder:
    """The network of a record that :func:`read_encoder` accepted."""
    model = DomainEncoder(record["heads"], record["width"], record["channels"])
    try:
        model.load_state_dict(record["state_dict"])
    except (RuntimeError, KeyError, ValueError) as exc:  # read_encoder checked all of this
        reason = _first_line(exc)
        raise BrainsynthError(f"domain encoder {path}: its weights do not load ({reason})") from exc
    return model.eval()


def check_encoder_fits(
    record: dict[str, Any], path: str | Path, image_size: int, channels: int
) -> None:
    """Refuse an encoder trained on images of another size or channel count."""
    if record["image_size"] != image_size or record["channels"] != channels:
        raise BrainsynthError(
            f"domain encoder {path} was trained on {record['image_size']}px images with "
            f"{record['channels']} channel(s), these are {image_size}px with {channels}"
        )


def read_encoder(path: str | Path) -> dict[str, Any]:
    """The record of a domain encoder file, refused in one line unless it is whole.

    Everything in the file is hostile until checked, before any network is built: its size
    is bounded before it is read; it is read with ``weights_only=True`` (tensors and plain
    values only, never a pickled object); its settings must be integers within
    :data:`ENCODER_LIMITS`, its head names identifiers; its ``state_dict`` must have exactly
    the keys, shapes and dtypes of :class:`DomainEncoder` with those settings, finite
    values and non-negative BatchNorm variances.
    """
    record = _load_record(Path(path))
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise BrainsynthError(f"{path} is not a brainsynth domain encoder (format {FORMAT})")
    missing = [key for key in ENCODER_KEYS if key not in record]
    if missing:
        raise BrainsynthError(f"domain encoder {path} is incomplete: no {', '.join(missing)}")
    for key, (low, high) in ENCODER_LIMITS.items():
        value = record[key]
        if type(value) is not int or not low <= value <= high:
            raise BrainsynthError(
                f"domain encoder {path}: {key} {_shown(value)} is not an integer in [{low}, {high}]"
            )
    _check_heads(record["heads"], path)
    _check_state(record, path)
    return record


def _shown(value: Any) -> str:
    """A value from a file, short and on one line, for a message."""
    text = repr(value)  # a repr is one line
    return text if len(text) <= 40 else text[:37] + "..."


def _load_record(path: Path) -> Any:
    """``torch.load(weights_only=True)`` of a bounded regular file; one line on failure and
    never PyTorch's advice to retry without ``weights_only`` (that would run the file)."""
    if not path.is_file():
        raise BrainsynthError(f"domain encoder {path}: no such file")
    size = path.stat().st_size
    if size > MAX_ENCODER_BYTES:
        raise BrainsynthError(
            f"domain encoder {path} is {size / 2**20:.0f} MiB, more than any encoder "
            f"({MAX_ENCODER_BYTES // 2**20} MiB)"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = "it holds objects other than tensors and plain values, never loaded here"
        if "weights only load failed" not in str(exc).lower():
            reason = _first_line(exc)
        raise BrainsynthError(f"cannot read domain encoder {path}: {reason}") from exc
    except Exception as exc:  # any failure to read a hostile file is one line
        raise BrainsynthError(
            f"cannot read domain encoder {path}: not a file written by torch.save "
            f"({_first_line(exc)})"
        ) from exc


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _check_heads(heads: Any, path: str | Path) -> None:
    if not isinstance(heads, dict) or not 1 <= len(heads) <= MAX_HEADS:
        raise BrainsynthError(
            f"domain encoder {path}: heads must map 1 to {MAX_HEADS} task names to sizes"
        )
    for name, size in heads.items():
        if not isinstance(name, str) or not name.isidentifier() or len(name) > 40:
            raise BrainsynthError(f"domain encoder {path}: head name {_shown(name)} is invalid")
        if type(size) is not int or not 1 <= size <= MAX_HEAD_OUTPUTS:
            raise BrainsynthError(
                f"domain encoder {path}: head {name} has {_shown(size)} outputs, not an "
                f"integer in [1, {MAX_HEAD_OUTPUTS}]"
            )
    if heads.get("rotation") != 4:
        raise BrainsynthError(f"domain encoder {path}: no rotation head of 4 outputs")


def _check_state(record: dict[str, Any], path: str | Path) -> None:
    """The state dict against the architecture its settings describe (built on the meta
    device: shapes and dtypes without allocating anything)."""
    state = record["state_dict"]
    if not isinstance(state, dict):
        raise BrainsynthError(f"domain encoder {path}: state_dict is not a dict of tensors")
    with torch.device("meta"):
        expected = DomainEncoder(record["heads"], record["width"], record["channels"]).state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [str(key) for key in state if key not in expected]
    if missing or unexpected:
        parts = [f"{len(missing)} missing ({_names(missing)})"] if missing else []
        parts += [f"{len(unexpected)} unexpected ({_names(unexpected)})"] if unexpected else []
        raise BrainsynthError(
            f"domain encoder {path}: its weights do not match the architecture: {'; '.join(parts)}"
        )
    for key, want in expected.items():
        _check_tensor(state[key], want, key, path)


def _names(keys: list[str]) -> str:
    return ", ".join(_shown(k) for k in keys[:3]) + (", ..." if len(keys) > 3 else "")


def _check_tensor(value: Any, want: torch.Tensor, key: str, path: str | Path) -> None:
    where = f"domain encoder {path}: weight {key}"
    if not isinstance(value, torch.Tensor) or value.layout != torch.strided:
        raise BrainsynthError(f"{where} is not a dense tensor")
    if value.shape != want.shape:
        raise BrainsynthError(
            f"{where} has shape {tuple(value.shape)}, the architecture needs {tuple(want.shape)}"
        )
    if value.dtype != want.dtype:
        raise BrainsynthError(f"{where} is {value.dtype}, the encoder saves {want.dtype}")
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise BrainsynthError(f"{where} holds NaN or infinite values")
    if key.endswith("running_var") and bool((value < 0).any()):
        raise BrainsynthError(f"{where} holds negative variances")


@torch.no_grad()
def encode(model: DomainEncoder, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(N, C, H, W) in [0, 1] -> (N, D) float64 penultimate features."""
    model.eval()
    rows = [
        model.embed(torch.from_numpy(np.asarray(images[i : i + batch_size], np.float32)))
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(rows).numpy().astype(np.float64)
