"""Files of older brainsynth versions, read in one place: old names read, new names written.

- **Checkpoints** (:func:`upgrade_checkpoint`): brainsynth 0.1.0 wrote version 1 (the
  DCGAN's ``model`` dict: size, width, latent, channels, disc_norm; a flat ``train`` config
  holding the background floor), 0.2-0.3 version 2 (``arch``, ``arch_config``, ``shape``),
  both under the format name "brainsynth-gan-checkpoint". They are returned in version 3's
  layout, format "brainsynth-checkpoint" (:mod:`brainsynth.models.checkpoint`), with
  ``upgraded_from`` naming the version read; a 0.1.0 background floor becomes the
  checkpoint's ``background_floor``.
- **Training configs** (:func:`nest_flat_config`): 0.1.0's ``config.yaml`` was one flat
  mapping (``data``, ``gan``, ``width``, ...); it reads as the nested sections of
  :class:`~brainsynth.training.config.TrainConfig`, its prepared folder found beside the run
  when it was stored relative (:func:`locate_legacy_data`).
- **Sampling records** (:func:`upgrade_sampling_record`): ``sampling.json`` named the
  objective ``gan`` (which held "denoising" for a diffusion model) before 0.4; it is read as
  ``objective``.

Nothing here imports torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brainsynth.errors import BrainsynthError

FORMAT = "brainsynth-checkpoint"
OLD_FORMATS: tuple[str, ...] = ("brainsynth-gan-checkpoint",)  # brainsynth 0.1-0.3
VERSION = 3
READABLE_VERSIONS: tuple[int, ...] = (1, 2, 3)
REQUIRED: dict[int, tuple[str, ...]] = {
    1: ("iteration", "model", "train", "trainer"),
    2: ("iteration", "arch", "arch_config", "shape", "train", "trainer"),
    3: ("iteration", "arch", "arch_config", "shape", "train", "trainer"),
}
LEGACY_FAMILY = "dcgan"  # the one architecture of brainsynth 0.1.0


def run_folder_of(checkpoint: Path) -> Path:
    """The run folder of a checkpoint: ``RUN/checkpoints/x.pt`` -> RUN, else its folder."""
    parent = Path(checkpoint).parent
    return parent.parent if parent.name == "checkpoints" else parent


def check_checkpoint(checkpoint: Any, path: Path) -> None:
    """One-line errors for a file that is not a readable brainsynth checkpoint."""
    if not isinstance(checkpoint, dict) or checkpoint.get("format") not in (FORMAT, *OLD_FORMATS):
        raise BrainsynthError(f"{path}: not a brainsynth checkpoint")
    version = checkpoint.get("version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise BrainsynthError(
            f"{path}: checkpoint version {version} is not supported (this brainsynth reads "
            f"versions {', '.join(map(str, READABLE_VERSIONS))})"
        )
    missing = [k for k in REQUIRED[version] if k not in checkpoint]
    if missing:
        raise BrainsynthError(f"{path}: incomplete checkpoint (missing {', '.join(missing)})")
    if not isinstance(checkpoint["train"], dict) or not isinstance(checkpoint["trainer"], dict):
        raise BrainsynthError(f"{path}: bad checkpoint (train and trainer must be mappings)")


def upgrade_checkpoint(checkpoint: dict[str, Any], path: Path) -> dict[str, Any]:
    """``checkpoint`` (checked by :func:`check_checkpoint`) in version 3's layout."""
    version = checkpoint["version"]
    if version == VERSION:
        return checkpoint
    upgraded = {**checkpoint, "format": FORMAT, "version": VERSION, "upgraded_from": version}
    if version == 1:
        model, train = checkpoint["model"], checkpoint["train"]
        if not isinstance(model, dict) or not isinstance(train, dict):
            raise BrainsynthError(f"{path}: bad model description in checkpoint (model and "
                                  "train must be mappings)")  # fmt: skip
        model = dict(model)
        shape = {key: model.pop(key, None) for key in ("size", "channels", "latent")}
        upgraded.pop("model")
        upgraded.update(
            arch=LEGACY_FAMILY,
            arch_config=model,
            shape=shape,
            train=nest_flat_config(train, run_folder_of(path)),
            background_floor=train.get("background_floor") or 0.0,
        )
    return upgraded


def is_flat(data: dict[str, Any]) -> bool:
    """True for a brainsynth 0.1.0 flat training config dict."""
    return "gan" in data and "run" not in data


def nest_flat_config(flat: dict[str, Any], run: Path | None = None) -> dict[str, Any]:
    """A brainsynth 0.1.0 ``config.yaml`` (one flat TrainConfig) as a nested TrainConfig dict.

    ``background_floor``, a sampling setting, is dropped here: sampling reads it from the
    old checkpoint (:func:`upgrade_checkpoint`). With ``run``, a relative prepared folder is
    located (:func:`locate_legacy_data`).
    """
    flat = dict(flat)
    options = {k: flat.pop(k) for k in ("width", "disc_norm") if flat.get(k) is not None}
    prepared = flat.pop("data", None)
    if run is not None and prepared is not None:
        prepared = locate_legacy_data(str(prepared), run)
    nested: dict[str, Any] = {
        "data": {"prepared": prepared, "sequence": flat.pop("sequence", None)},
        "model": {"arch": LEGACY_FAMILY, "latent": flat.pop("latent", 100), "options": options},
        "objective": {"name": flat.pop("gan")},
        "optimizer": {"lr": flat.pop("lr", None), "betas": flat.pop("betas", None)},
    }
    for key in ("n_critic", "clip", "gp_lambda"):
        nested["objective"][key] = flat.pop(key, None)
    for key in ("width", "disc_norm", "background_floor"):
        flat.pop(key, None)
    nested["run"] = flat
    return nested


def locate_legacy_data(prepared: str, run: Path) -> str:
    """The prepared folder of a 0.1.0 run, whose config.yaml may store it relative.

    Relative to the folder the run was started in, which is not recorded: the working
    folder is tried first, then each folder above the run (``runs/x`` started beside
    ``prepared``), the first prepared folder found wins.
    """
    path = Path(prepared).expanduser()
    if path.is_absolute():
        return str(path)
    for base in (Path.cwd(), *Path(run).absolute().parents):
        if (base / path / "dataset.json").is_file():
            return str((base / path).absolute())
    return str(path.absolute())


def upgrade_sampling_record(record: dict[str, Any]) -> dict[str, Any]:
    """A ``sampling.json`` record with this version's keys (``gan`` read as ``objective``)."""
    if "gan" in record and "objective" not in record:
        record = {("objective" if k == "gan" else k): v for k, v in record.items()}
    return record
