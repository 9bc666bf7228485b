"""``brainsynth prepare``: BraTS volumes (any release) -> a prepared folder of 2D slices.

Defaults follow the paper (§3.1, §3.2.1): sagittal slices #80-#149, all four sequences,
stretched from 240x155 to a square. Each case is handled by one worker process (memory stays
bounded: one volume per worker at a time) and written to its own temporary arrays; the parent
then concatenates them into ``images.npy`` and ``masks.npy`` through memory maps. Everything
is written into a hidden temporary folder that is moved into place at the end, so an
interrupted run never leaves an ``OUT`` that looks complete. ``OUT`` follows
:mod:`brainsynth.outputs`: a new or empty folder, or one ``prepare`` made, where only the
files it wrote are replaced.

Tumour masks (``masks.npy``, ``segmented``, ``tumor_pixels``): :mod:`brainsynth.data.case_masks`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.config import check_image_size
from brainsynth.data.case_masks import (
    mask_part,
    mask_slices,
    mask_summary,
    record_mapping,
    segmentation,
    tumor_counts,
)
from brainsynth.data.dataset import write_slices_csv
from brainsynth.data.discovery import Case, Problem, discover_cases
from brainsynth.data.loading import load_volume
from brainsynth.data.preprocessing import (
    PLANES,
    RESIZE_MODES,
    check_slices,
    display_slice,
    normalise,
    percentile_window,
    plane_axis,
    resize,
)
from brainsynth.errors import BrainsynthError
from brainsynth.outputs import Vocabulary, claim_file, claim_folder
from brainsynth.paper import SEQUENCE_LABELS, SEQUENCES, SLICES

GRADES = ("HGG", "LGG", "all")
TUMOR_FILTERS = ("any", "with", "without")


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


@dataclass
class PrepareConfig:
    """How to turn volumes into slices; saved as ``OUT/config.yaml``."""

    plane: str = "sagittal"
    slices: tuple[int, int] = SLICES
    size: int = 128
    resize: str = "stretch"
    grade: str = "all"
    tumor: str = "any"
    workers: int = field(default_factory=default_workers)
    strict: bool = False
    low_percentile: float = 0.5
    high_percentile: float = 99.5

    def validate(self) -> None:
        plane_axis(self.plane)
        if self.resize not in RESIZE_MODES:
            raise BrainsynthError(f"--resize {self.resize!r}: choose one of stretch, pad")
        if self.grade not in GRADES:
            raise BrainsynthError(f"--grade {self.grade!r}: choose one of {', '.join(GRADES)}")
        if self.tumor not in TUMOR_FILTERS:
            raise BrainsynthError(f"--tumor {self.tumor!r}: choose one of any, with, without")
        check_image_size(self.size, "--size")
        if self.workers < 1:
            raise BrainsynthError(f"--workers {self.workers}: must be at least 1")
        start, stop = self.slices
        if not 0 <= start < stop:
            raise BrainsynthError(f"--slices {start}:{stop}: need 0 <= A < B")
        if not 0 <= self.low_percentile < self.high_percentile <= 100:
            raise BrainsynthError("percentiles: need 0 <= low < high <= 100")


def sequence_slices(case: Case, seq: str, config: PrepareConfig, shape: list) -> np.ndarray:
    """(S, size, size) uint8 slices of one sequence, normalised over its whole volume."""
    path, channel = case.sequences[seq]
    volume = load_volume(path, channel)
    if not shape:
        shape.extend([volume.shape, path])
    elif volume.shape != shape[0]:
        raise BrainsynthError(f"{path}: shape {volume.shape} differs from {shape[1]} {shape[0]}")
    depth = volume.shape[plane_axis(config.plane)]
    indices = check_slices(config.slices, depth, config.plane, path)
    window = percentile_window(volume, config.low_percentile, config.high_percentile)
    out = np.empty((len(indices), config.size, config.size), dtype=np.uint8)
    for k, index in enumerate(indices):
        image = normalise(display_slice(volume, config.plane, index), window)
        out[k] = np.rint(resize(image, config.size, config.resize) * 255.0).astype(np.uint8)
    return out


def process_case(case: Case, config: PrepareConfig, target: Path) -> list[dict[str, Any]]:
    """Prepare one case into ``target`` (.npy, (S, 4, H, W) uint8) and its masks into
    :func:`mask_part` ((S, H, W) uint8, 0..3); return its slice rows."""
    if case.broken:
        raise BrainsynthError(f"{case.folder}: case {case.patient}: {'; '.join(case.broken)}")
    if case.missing:
        names = ", ".join(SEQUENCE_LABELS[s] for s in case.missing)
        raise BrainsynthError(f"{case.folder}: case {case.patient} is missing {names}")
    if config.tumor != "any" and case.seg is None:
        raise BrainsynthError(
            f"{case.folder}: case {case.patient} has no segmentation, needed by --tumor"
        )
    shape: list = []
    channels = [sequence_slices(case, seq, config, shape) for seq in SEQUENCES]
    labels = segmentation(case, shape)
    tumor = None if labels is None else tumor_counts(labels, config.plane, config.slices)
    masks = mask_slices(labels, config.plane, config.slices, config.size, config.resize)
    del labels
    keep = list(range(len(channels[0])))
    if config.tumor == "with":
        keep = [k for k in keep if tumor[k] > 0]
    elif config.tumor == "without":
        keep = [k for k in keep if tumor[k] == 0]
    np.save(target, np.stack(channels, axis=1)[keep])
    np.save(mask_part(target), masks[keep])
    start = config.slices[0]
    return [
        {
            "patient": case.patient,
            "grade": case.grade,
            "plane": config.plane,
            "slice": start + k,
            "tumor_pixels": "" if tumor is None else tumor[k],
            "segmented": 0 if tumor is None else 1,
        }
        for k in keep
    ]


def run_cases(cases: list[Case], config: PrepareConfig, folder: Path, progress: bool):
    """Yield (case, target, rows or error) in case order, using ``config.workers`` processes."""
    from tqdm import tqdm

    targets = [folder / f"case{i:05d}.npy" for i in range(len(cases))]
    bar = tqdm(total=len(cases), desc="preparing cases", unit="case", disable=not progress)
    with bar:
        if config.workers == 1 or len(cases) == 1:
            for case, target in zip(cases, targets, strict=True):
                try:
                    result: Any = process_case(case, config, target)
                except BrainsynthError as exc:
                    result = exc
                bar.update()
                yield case, target, result
            return
        with ProcessPoolExecutor(min(config.workers, len(cases))) as pool:
            jobs = [
                pool.submit(process_case, c, config, t) for c, t in zip(cases, targets, strict=True)
            ]
            try:
                for case, target, job in zip(cases, targets, jobs, strict=True):
                    try:
                        result = job.result()
                    except BrainsynthError as exc:
                        result = exc
                    bar.update()
                    yield case, target, result
            except BaseException:
                for job in jobs:
                    job.cancel()
                raise


def assemble(folder: Path, parts: list[Path], count: int, size: int) -> None:
    """Concatenate per-case arrays into ``images.npy`` and ``masks.npy`` through memory maps,
    one case at a time."""
    for name, shape, files in (
        ("images.npy", (count, len(SEQUENCES), size, size), parts),
        ("masks.npy", (count, size, size), [mask_part(p) for p in parts]),
    ):
        array = np.lib.format.open_memmap(folder / name, mode="w+", dtype=np.uint8, shape=shape)
        at = 0
        for part in files:
            block = np.load(part)
            array[at : at + len(block)] = block
            at += len(block)
            part.unlink()
        array.flush()
        del array


def select_cases(
    src: Path, config: PrepareConfig, problems: list[Problem] | None = None
) -> tuple[list[Case], int]:
    cases = discover_cases(src, problems)
    found = len(cases)
    if config.grade != "all":
        cases = [c for c in cases if c.grade == config.grade]
        if not cases:
            raise BrainsynthError(f"{src}: no {config.grade} case among {found} (see --grade)")
    return cases, found


PREPARED_FILES: tuple[str, ...] = (
    "images.npy",
    "masks.npy",
    "slices.csv",
    "dataset.json",
    "config.yaml",
)
"""What ``prepare`` writes into ``OUT`` (``dataset.json`` last: it marks a complete folder)."""
LEGACY_FILES: tuple[str, ...] = ("images.npy", "slices.csv", "dataset.json", "config.yaml")
"""What brainsynth 0.1 wrote (no ``masks.npy``: a file of that name there is not prepare's)."""

PREPARED_VOCABULARY = Vocabulary(files=PREPARED_FILES, file_pattern=r".+\.png")
"""What a prepared folder's marker may list: those files and a ``--preview`` PNG inside."""


def prepare(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: PrepareConfig,
    preview: Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Prepare the cases under ``src`` into the folder ``out``; return ``out``.

    ``out`` (and ``preview``) are checked before any work (see :mod:`brainsynth.outputs`);
    ``overwrite`` lets them replace files prepare did not write (never anything else).
    """
    config.validate()
    src, out = Path(src), Path(out)
    claim = claim_folder(
        out, "prepare", "OUT", PREPARED_FILES, overwrite, legacy_prepared, PREPARED_VOCABULARY
    )
    preview_claim = None
    if preview is not None:
        preview = Path(preview)
        preview_claim = claim_file(preview, "prepare", "--preview", overwrite, within=claim)
    problems: list[Problem] = []
    cases, found = select_cases(src, config, problems)
    if problems and config.strict:
        raise BrainsynthError(f"{problems[0].path}: {problems[0].reason}")
    tmp = claim.scratch()
    (tmp / "cases").mkdir()
    try:
        rows, parts, skipped, layouts, sources, mappings = [], [], [], {}, {}, {}
        for problem in problems:  # links under SRC that lead nowhere or loop
            problem.warn()
            skipped.append(problem.as_skipped())
        # closing() stops the worker pool (on errors too) before the temporary folder goes
        with closing(run_cases(cases, config, tmp / "cases", progress)) as results:
            for case, target, result in results:
                if isinstance(result, BrainsynthError):
                    if config.strict:
                        raise result
                    warn_skip(case, result, skipped)
                    continue
                rows.extend(result)
                parts.append(target)
                layouts[case.patient] = case.layout
                sources[case.patient] = case.source()
                if case.seg is not None:
                    record_mapping(mappings, case)
        if not layouts:
            raise BrainsynthError(f"{src}: every case failed; first: {skipped[0]['reason']}")
        if not rows:
            raise BrainsynthError(f"{src}: no slice left after --tumor {config.tumor}")
        assemble(tmp, parts, len(rows), config.size)
        shutil.rmtree(tmp / "cases")
        masks = mask_summary(tmp / "masks.npy", rows, mappings)
        write_outputs(tmp, src, config, rows, layouts, skipped, found, sources, masks)
        claim.install(tmp, last=("dataset.json",))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if preview is not None:
        (preview_claim or claim).begin([preview.name])
        write_preview(preview, out)
    return out


def legacy_prepared(folder: Path) -> set[str] | None:
    """A folder prepared by brainsynth 0.1 (no marker): its four files are prepare's."""
    try:
        meta = json.loads((folder / "dataset.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or "brainsynth_version" not in meta:
        return None
    return {name for name in LEGACY_FILES if (folder / name).exists()}


def warn_skip(case: Case, error: BrainsynthError, skipped: list[dict[str, str]]) -> None:
    """Report a bad case on stderr and record it for ``dataset.json``."""
    print(f"brainsynth: warning: skipping {case.patient}: {error}", file=sys.stderr)
    skipped.append({"case": case.patient, "folder": str(case.folder), "reason": str(error)})


def write_outputs(
    folder, src, config, rows, layouts, skipped, found, sources=None, masks=None
) -> None:
    """``slices.csv``, ``dataset.json`` and ``config.yaml`` of a prepared folder.

    ``sources`` (patient -> :meth:`Case.source`) records where each case was found and the
    folder (and linked files) it resolves to, so a cohort of symbolic links stays traceable;
    ``masks`` (:func:`mask_summary`) describes ``masks.npy`` and the label mapping used.
    """
    from brainsynth import __version__
    from brainsynth.config import save_config

    write_slices_csv(folder / "slices.csv", rows)
    patients = sorted({row["patient"] for row in rows})
    grades = {row["patient"]: row["grade"] for row in rows}
    meta = {
        "source": str(src.resolve()),
        "phantom": (src / "PHANTOM.json").is_file(),
        "layouts": layouts,
        "case_sources": sources or {},
        "grades": grades,
        "plane": config.plane,
        "slice_range": list(config.slices),
        "size": config.size,
        "resize": config.resize,
        "channels": list(SEQUENCES),
        "dtype": "uint8",
        "orientation": DISPLAY_NOTE[config.plane],
        "normalization": {
            "method": "per volume and sequence: clip to percentiles of non-zero voxels",
            "percentiles": [config.low_percentile, config.high_percentile],
            "range": [0, 1],
            "background": 0,
        },
        "filters": {"grade": config.grade, "tumor": config.tumor},
        "counts": {
            "cases_found": found,
            "cases": len(patients),
            "cases_skipped": len(skipped),
            "images": len(rows),
        },
        "skipped": skipped,
        **(masks or {}),
        "brainsynth_version": __version__,
    }
    if meta["phantom"]:
        meta["note"] = "PHANTOM data from brainsynth (MNI152 template), not patients"
    (folder / "dataset.json").write_text(json.dumps(meta, indent=2) + "\n")
    save_config(config, folder / "config.yaml")


DISPLAY_NOTE = {
    "sagittal": "canonical RAS+ index (0 = patient's far left); superior up, anterior left",
    "coronal": "canonical RAS+ index (0 = posterior); superior up, patient's right at left",
    "axial": "canonical RAS+ index (0 = inferior); anterior up, patient's right at left",
}
assert set(DISPLAY_NOTE) == set(PLANES)


def write_preview(path: Path, folder: Path, patients: int = 6) -> Path:
    """A montage: rows T1, T1c, T2, FLAIR; columns one slice of each of the first patients.

    Each patient's slice is the one with the most tumour (the middle one without labels).
    """
    import csv

    from brainsynth.imageio import save_grid

    images = np.load(folder / "images.npy", mmap_mode="r")
    with (folder / "slices.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_patient: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_patient.setdefault(row["patient"], []).append(i)
    picks = []
    for indices in list(by_patient.values())[:patients]:
        tumour = [int(rows[i]["tumor_pixels"] or 0) for i in indices]
        picks.append(
            indices[int(np.argmax(tumour))] if max(tumour) > 0 else indices[len(indices) // 2]
        )
    tiles = np.stack([images[i, c] for c in range(len(SEQUENCES)) for i in picks])
    return save_grid(path, tiles[:, None].astype(np.float32) / 255.0, ncols=len(picks))
