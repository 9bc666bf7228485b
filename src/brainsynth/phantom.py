"""A BraTS-like digital PHANTOM cohort built from nilearn's shipped MNI152 2009a anatomy.

BraTS (the data of the paper, §3.1) cannot be downloaded here, so this module makes a stand-in
with the same file formats, grid and label conventions. It is a PHANTOM for demos and tests,
not a substitute for patients, and says so in every file header and manifest it writes.

Per patient (deterministic given ``seed`` and the patient index):

1. anatomy: the 1 mm MNI152 2009a grey- and white-matter maps and brain mask that nilearn
   ships inside its package (read from the package folder: no download); CSF is
   ``mask - gm - wm``;
2. a random global scaling and a smooth random deformation (coarse control grid, upsampled),
   plus the radial mass effect of the tumour, resampled with trilinear interpolation
   (``scipy.ndimage.map_coordinates``, order 1) into BraTS's 240x240x155 1 mm grid;
3. a glioma: necrotic / non-enhancing core (label 1), edema (2) and an enhancing rim (4);
   every fourth patient is LGG-like, without enhancement;
4. tissue contrasts for T1, T1c (rim bright), T2 (CSF bright) and FLAIR (CSF dark, edema
   bright) from the partial-volume tissue fractions, a smooth bias field and Rician noise;
5. skull-stripped (background exactly 0), stored LPS like real BraTS files.

File and folder names of each BraTS release are written by :mod:`brainsynth.data.layouts`.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainsynth.data.layouts import (
    CANONICAL_ORIGIN,
    GRID_SHAPE,
    LAYOUTS,
    MANIFEST,
    top_level_entries,
    write_case,
    write_manifest,
)
from brainsynth.errors import BrainsynthError
from brainsynth.outputs import Vocabulary, claim_folder

PHANTOM_VOCABULARY = Vocabulary(
    files=(MANIFEST, "README-PHANTOM.txt", "dataset.json"),
    folders=("HGG", "LGG", "imagesTr", "labelsTr"),
    folder_pattern=r"BraTS2021_[0-9]{5,}|BraTS-GLI-[0-9]{5,}-000",
)
"""What a cohort's marker may list: the top-level entries of every layout (a cohort may be
rewritten in another layout, whose first run's entries are then stale)."""

SEQUENCE_ORDER: tuple[str, ...] = ("t1", "t1c", "t2", "flair")

# Relative signal of each compartment per sequence: (CSF, GM, WM, edema, necrotic/NE core,
# enhancing rim). T1c brightens the rim, T2 brightens CSF and fluid, FLAIR suppresses CSF.
CONTRAST: dict[str, tuple[float, ...]] = {
    "t1": (0.25, 0.55, 0.78, 0.45, 0.22, 0.50),
    "t1c": (0.25, 0.55, 0.75, 0.45, 0.22, 1.00),
    "t2": (1.00, 0.62, 0.45, 0.85, 0.95, 0.65),
    "flair": (0.12, 0.62, 0.50, 1.00, 0.45, 0.75),
}
LGG_CORE = {"t1": 0.38, "t1c": 0.40, "t2": 0.80, "flair": 0.88}
"""Non-enhancing tumour core of LGG-like patients."""

# Canonical region where the brain can land after scaling and deformation (saves ~40% work).
REGION = (slice(30, 210), slice(18, 222), slice(0, 155))
SCALE_CENTER = np.array([0.0, -17.0, 5.0])


@dataclass
class PhantomPatient:
    """One synthesised patient: int16 volumes and uint8 labels stored LPS (x, y, z)."""

    index: int
    grade: str
    volumes: dict[str, np.ndarray]
    seg: np.ndarray


def mni_data_folder() -> Path:
    """nilearn's package folder holding the shipped MNI152 2009a files."""
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise BrainsynthError("nilearn is not installed: the phantom needs its MNI152 files")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


@functools.lru_cache(maxsize=1)
def mni_anatomy() -> dict[str, np.ndarray]:
    """GM, WM, CSF fractions and brain mask (float32, MNI voxel grid, RAS, 1 mm).

    The mask is nilearn's ``load_mni152_brain_mask`` rule (T1 template > 0.2 of its range).
    """
    import nibabel as nib

    folder = mni_data_folder()
    maps = {}
    for name in ("t1", "gm", "wm"):
        path = folder / f"mni_icbm152_{name}_tal_nlin_sym_09a_converted.nii.gz"
        if not path.is_file():
            raise BrainsynthError(f"{path}: nilearn's shipped MNI152 file is missing")
        img = nib.load(path)
        if not np.allclose(img.affine[:3, :3], np.eye(3)):
            raise BrainsynthError(f"{path}: expected a 1 mm RAS template")
        data = np.asarray(img.dataobj, dtype=np.float32)
        maps[name] = data / max(float(data.max()), 1e-6)
    mask = (maps["t1"] > 0.2).astype(np.float32)
    gm, wm = maps["gm"] * mask, maps["wm"] * mask
    csf = np.clip(mask - gm - wm, 0.0, 1.0)
    origin = nib.load(folder / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz").affine[:3, 3]
    return {"gm": gm, "wm": wm, "csf": csf, "mask": mask, "origin": origin.astype(np.float32)}


def random_curves(
    rng: np.random.Generator, lengths: tuple[int, ...], rank: int = 3, waves: int = 3
):
    """Smooth random 1D curves (unit std), ``rank`` sets of one curve per axis.

    A smooth 3D field is the sum of their outer products (:func:`field_at`): a cheap,
    low-rank stand-in for an upsampled random control grid.
    """
    sets = []
    for _ in range(rank):
        curves = []
        for length in lengths:
            t = np.linspace(0.0, np.pi, length, dtype=np.float32)
            k = np.arange(1, waves + 1, dtype=np.float32)
            amp = rng.standard_normal(waves).astype(np.float32) / k
            phase = rng.uniform(0, 2 * np.pi, waves).astype(np.float32)
            curve = (amp[:, None] * np.cos(k[:, None] * t[None] + phase[:, None])).sum(0)
            curves.append((curve - curve.mean()) / (curve.std() + 1e-6))
        sets.append(curves)
    return sets


def field_at(curve_sets, index: tuple[np.ndarray, ...]) -> np.ndarray:
    """Evaluate the low-rank field of ``curve_sets`` at integer (broadcastable) indices."""
    total = None
    for curves in curve_sets:
        term = curves[0][index[0]] * curves[1][index[1]] * curves[2][index[2]]
        total = term if total is None else total + term
    return total / np.float32(np.sqrt(len(curve_sets)))


def region_shape() -> tuple[int, int, int]:
    return tuple(s.stop - s.start for s in REGION)


def region_index() -> tuple[np.ndarray, ...]:
    """Sparse (broadcastable) integer indices of the canonical work region."""
    return np.ix_(*(np.arange(s.stop - s.start) for s in REGION))


def to_world(index: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """World coordinates (RAS mm) of region indices."""
    return [
        index[a].astype(np.float32) + np.float32(REGION[a].start + CANONICAL_ORIGIN[a])
        for a in range(3)
    ]


def choose_tumour(rng: np.random.Generator, anatomy: dict[str, np.ndarray]) -> np.ndarray:
    """A tumour centre (MNI world mm) in white matter, off the midline, mid-height."""
    origin = anatomy["origin"]
    candidates = np.argwhere(anatomy["wm"][::3, ::3, ::3] > 0.7) * 3 + origin
    x, z = candidates[:, 0], candidates[:, 2]
    keep = (np.abs(x) > 12) & (np.abs(x) < 50) & (z > -15) & (z < 50)
    candidates = candidates[keep]
    return candidates[rng.integers(len(candidates))].astype(np.float32)


def source_coordinates(rng, tumour_centre, radius, scale) -> np.ndarray:
    """MNI voxel coordinates (3, X, Y, Z) sampled by each voxel of the work region.

    Output -> source: undo the tumour's radial push (mass effect), add a smooth random
    displacement (~2.5 mm), undo the global scaling.
    """
    index = region_index()
    world = to_world(index)
    rel = [w - c for w, c in zip(world, tumour_centre, strict=True)]
    r2 = (rel[0] ** 2 + rel[1] ** 2 + rel[2] ** 2) / np.float32(radius * radius)
    shrink = 1 - np.float32(0.45) * np.exp(-r2)
    origin = mni_anatomy()["origin"]
    coords = np.empty((3, *region_shape()), dtype=np.float32)
    for axis in range(3):
        shift = 2.5 * field_at(random_curves(rng, region_shape()), index)
        pushed = tumour_centre[axis] + rel[axis] * shrink + shift
        source = SCALE_CENTER[axis] + (pushed - SCALE_CENTER[axis]) / scale[axis]
        coords[axis] = source - origin[axis]
    return coords


@functools.lru_cache(maxsize=1)
def dilated_mask() -> np.ndarray:
    """The MNI brain mask grown by 2 voxels: which output voxels can be brain at all."""
    from scipy import ndimage

    return ndimage.binary_dilation(mni_anatomy()["mask"] > 0, iterations=2)


def warp_tissue(coords: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Trilinear tissue fractions at the brain voxels of the region (flat index, fractions)."""
    from scipy import ndimage

    anatomy = mni_anatomy()
    near = np.rint(coords).astype(np.int32)
    limits = np.array(dilated_mask().shape).reshape(3, 1, 1, 1) - 1
    np.clip(near, 0, limits, out=near)
    flat = np.flatnonzero(dilated_mask()[near[0], near[1], near[2]])
    points = coords.reshape(3, -1)[:, flat]
    fractions = {
        name: ndimage.map_coordinates(anatomy[name], points, order=1, cval=0.0)
        for name in ("gm", "wm", "mask")
    }
    brain = fractions["mask"] >= 0.5
    fractions = {name: value[brain] for name, value in fractions.items()}
    fractions["csf"] = np.clip(fractions["mask"] - fractions["gm"] - fractions["wm"], 0, 1)
    return flat[brain], fractions


def sigmoid(x: np.ndarray) -> np.ndarray:
    return (0.5 * (1.0 + np.tanh(0.5 * x))).astype(np.float32)


def plane_waves(rng, rel: list[np.ndarray], wavelength: float, waves: int = 10) -> np.ndarray:
    """An isotropic smooth random field (unit std) at the points ``rel``: random plane waves."""
    total = np.zeros(np.broadcast_shapes(*(r.shape for r in rel)), dtype=np.float32)
    for _ in range(waves):
        direction = rng.standard_normal(3)
        k = direction / np.linalg.norm(direction) * (2 * np.pi / wavelength)
        k *= rng.uniform(0.7, 1.4)
        phase = rng.uniform(0, 2 * np.pi)
        total += np.cos(k[0] * rel[0] + k[1] * rel[1] + k[2] * rel[2] + np.float32(phase))
    return total * np.float32(np.sqrt(2.0 / waves))


def tumour_weights(rng, index, centre, radius, wm) -> dict[str, np.ndarray]:
    """Soft memberships (partial volume) of edema, tumour and core at the brain voxels.

    Distances to the centre are scaled per axis (an ellipsoid) and modulated by random plane
    waves, so borders are irregular; edema reaches further in white matter.
    """
    world = to_world(index)
    rel = [(w - np.float32(c)).astype(np.float32) for w, c in zip(world, centre, strict=True)]
    axes = rng.uniform(0.8, 1.25, size=3).astype(np.float32) * np.float32(radius)
    d = np.sqrt(sum((r / a) ** 2 for r, a in zip(rel, axes, strict=True)))
    near = np.flatnonzero(d < 3.3)  # beyond, every membership below is < 1e-4: exactly 0
    rel = [r[near] for r in rel]
    norm = np.sqrt(rel[0] ** 2 + rel[1] ** 2 + rel[2] ** 2) + np.float32(1e-3)
    unit = [r / norm for r in rel]  # waves over directions: lobes, not spikes
    rough = np.clip(1 + 0.12 * plane_waves(rng, unit, 1.6, waves=6), 0.8, 2)
    edema_rough = np.clip(1 + 0.2 * plane_waves(rng, unit, 1.3, waves=8), 0.75, 2)
    d_tumour, d_edema = d[near] * rough, d[near] * edema_rough
    memberships = {
        "edema": sigmoid((0.95 + 0.9 * wm[near] - d_edema) / 0.06),
        "tumour": sigmoid((0.7 - d_tumour) / 0.03),
        "core": sigmoid((0.45 - d_tumour) / 0.03),
    }
    weights = {}
    for name, values in memberships.items():
        weights[name] = np.zeros(len(d), dtype=np.float32)
        weights[name][near] = values
    return weights


def synthesize_patient(seed: int, index: int) -> PhantomPatient:
    """Synthesise patient ``index`` of the cohort with ``seed`` (see the module docstring)."""
    rng = np.random.default_rng([seed, index])
    grade = "LGG" if index % 4 == 3 else "HGG"
    scale = rng.uniform(0.92, 1.04, size=3).astype(np.float32)
    mni_centre = choose_tumour(rng, mni_anatomy())
    centre = SCALE_CENTER + (mni_centre - SCALE_CENTER) * scale
    radius = rng.uniform(11, 20) if grade == "HGG" else rng.uniform(9, 16)

    flat, tissue = warp_tissue(source_coordinates(rng, centre, radius, scale))
    voxel = np.unravel_index(flat, region_shape())
    w = tumour_weights(rng, voxel, centre, radius, tissue["wm"])

    labels = np.zeros(len(flat), dtype=np.uint8)
    labels[w["edema"] >= 0.5] = 2
    labels[w["tumour"] >= 0.5] = 1 if grade == "LGG" else 4
    if grade == "HGG":
        labels[w["core"] >= 0.5] = 1

    volumes = {}
    sigma = np.float32(0.025)
    for sequence in SEQUENCE_ORDER:
        csf, gm, wm, edema, core, rim = CONTRAST[sequence]
        if grade == "LGG":
            core = rim = LGG_CORE[sequence]
        normal = tissue["csf"] * csf + tissue["gm"] * gm + tissue["wm"] * wm
        lesion = rim * (1 - w["core"]) + core * w["core"]
        lesion = edema * (1 - w["tumour"]) + lesion * w["tumour"]
        signal = normal * (1 - w["edema"]) + lesion * w["edema"] * tissue["mask"]
        signal *= np.exp(0.12 * field_at(random_curves(rng, region_shape(), rank=2), voxel))
        noisy = np.hypot(
            signal + sigma * rng.standard_normal(len(flat), dtype=np.float32),
            sigma * rng.standard_normal(len(flat), dtype=np.float32),
        )
        gain = rng.uniform(600, 1400)
        volumes[sequence] = to_lps(flat, np.clip(np.rint(noisy * gain), 1, 32767).astype(np.int16))
    return PhantomPatient(index=index, grade=grade, volumes=volumes, seg=to_lps(flat, labels))


def to_lps(flat: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Scatter brain-voxel values into the full grid (background 0), flipped to LPS storage."""
    region = np.zeros(region_shape(), dtype=values.dtype)
    region.reshape(-1)[flat] = values
    full = np.zeros(GRID_SHAPE, dtype=values.dtype)
    full[REGION] = region
    return np.ascontiguousarray(full[::-1, ::-1, :])


def _write_patient(out: Path, layout: str, seed: int, index: int) -> tuple[str, str]:
    patient = synthesize_patient(seed, index)
    case_id = write_case(out, layout, patient)
    return case_id, patient.grade


def write_patients(
    folder: Path, patients: int, seed: int, layout: str, progress: bool
) -> dict[str, str]:
    """Synthesise and write every patient (two processes at most); return grade per case."""
    from tqdm import tqdm

    workers = min(2, os.cpu_count() or 1, patients)
    grades: dict[str, str] = {}
    with tqdm(total=patients, desc="phantom patients", unit="case", disable=not progress) as bar:
        if workers == 1:
            for index in range(patients):
                case_id, grades[case_id] = _write_patient(folder, layout, seed, index)
                bar.update()
            return grades
        with ProcessPoolExecutor(workers) as pool:
            jobs = [pool.submit(_write_patient, folder, layout, seed, i) for i in range(patients)]
            try:
                for job in jobs:
                    case_id, grade = job.result()
                    grades[case_id] = grade
                    bar.update()
            except BaseException:
                for job in jobs:
                    job.cancel()
                raise
    return grades


def make_cohort(
    out: Path | str,
    patients: int,
    seed: int = 0,
    layout: str = "brats2021",
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write a phantom cohort of ``patients`` cases in the file layout of ``layout``.

    ``out`` is new, empty or a cohort ``phantom`` wrote before (see :mod:`brainsynth.outputs`;
    ``overwrite`` lets it replace files in the way that it did not write).

    Layouts: ``brats2021``, ``brats2018``, ``brats2023``, ``brats2015`` (``.mha``) and
    ``msd`` (Decathlon Task01, 4D NIfTI). Returns ``out``. Patients are synthesised in
    parallel (at most two processes) and are identical for the same ``seed``.
    """

    if layout not in LAYOUTS:
        raise BrainsynthError(f"--layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    if patients < 1:
        raise BrainsynthError(f"--patients must be at least 1, got {patients}")
    writes = top_level_entries(layout, patients)
    claim = claim_folder(
        out, "phantom", "OUT", writes, overwrite=overwrite, vocabulary=PHANTOM_VOCABULARY
    )
    tmp = claim.scratch()
    try:
        grades = write_patients(tmp, patients, seed, layout, progress)
        write_manifest(tmp, layout, seed, grades)
        # an interrupted run leaves no cohort that looks complete
        claim.install(tmp, last=(MANIFEST,))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Path(out)
