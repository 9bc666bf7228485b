"""File and folder names of each BraTS release, for writing the phantom cohort.

The names follow the real downloads, so :mod:`brainsynth.data.discovery` is tested on what a
user actually has on disk:

- ``brats2015`` (BRATS 2015/2016): ``HGG|LGG/<case>/VSD.Brain.XX.O.MR_T1.<id>/
  VSD.Brain.XX.O.MR_T1.<id>.mha`` (also ``MR_T1c``, ``MR_T2``, ``MR_Flair``), label
  ``VSD.Brain_3more.XX.O.OT.<id>``; MetaImage, LPS.
- ``brats2018`` (2017-2020): ``HGG|LGG/<case>/<case>_{t1,t1ce,t2,flair,seg}.nii.gz``.
- ``brats2021``: ``BraTS2021_NNNNN/BraTS2021_NNNNN_{t1,t1ce,t2,flair,seg}.nii.gz``.
- ``brats2023``: ``BraTS-GLI-NNNNN-000/BraTS-GLI-NNNNN-000-{t1n,t1c,t2w,t2f,seg}.nii.gz``.
- ``msd`` (Decathlon Task01_BrainTumour): 4D ``imagesTr/BRATS_NNN.nii.gz`` with channels
  FLAIR, T1w, t1gd, T2w and ``labelsTr/BRATS_NNN.nii.gz`` (labels 1 edema, 2 non-enhancing
  tumour, 3 enhancing), stored RAS as the real Decathlon files are.

Labels follow each release too (``../shared/conventions/segmentation.md``): the phantom's own
labels (1 necrotic / non-enhancing core, 2 edema, 4 enhancing, as BraTS 2017-2021) are written
as they are for 2018 and 2021; 2023 writes enhancing as 3; BRATS 2015 splits the core into 1
necrosis (the core of an HGG-like patient, inside its enhancing rim) and 3 non-enhancing tumour
(the solid core of an LGG-like patient) and keeps 4 for enhancing; the Decathlon uses its own
order (:data:`MSD_LABELS`). ``prepare`` maps every one back to the same mask labels 0..3.

Every cohort also gets ``PHANTOM.json`` (the grade of each case, read back by discovery) and
a ``README-PHANTOM.txt``: it is a phantom, not patients.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np

from brainsynth import __version__
from brainsynth.config import write_text_atomic

GRID_SHAPE: tuple[int, int, int] = (240, 240, 155)
"""BraTS's 1 mm grid (x, y, z)."""

CANONICAL_ORIGIN = np.array([-120.0, -137.0, -72.0])
"""World (RAS, mm) of voxel (0, 0, 0) of the canonical grid: the MNI brain fits centred."""

LPS_AFFINE = np.array(
    [
        [-1.0, 0.0, 0.0, CANONICAL_ORIGIN[0] + GRID_SHAPE[0] - 1],
        [0.0, -1.0, 0.0, CANONICAL_ORIGIN[1] + GRID_SHAPE[1] - 1],
        [0.0, 0.0, 1.0, CANONICAL_ORIGIN[2]],
        [0.0, 0.0, 0.0, 1.0],
    ]
)
"""Affine of the stored (LPS) arrays: axis 0 runs to the patient's left, axis 1 posterior."""

PHANTOM_NOTE = "brainsynth PHANTOM from MNI152 2009a, not patient data"
"""Written into every header (NIfTI descrip is limited to 80 bytes) and manifest."""


class Case(Protocol):
    """What a case needs to be written (:class:`brainsynth.phantom.PhantomPatient` is one)."""

    index: int
    grade: str
    volumes: dict[str, np.ndarray]
    seg: np.ndarray


LAYOUTS: tuple[str, ...] = ("brats2021", "brats2018", "brats2023", "brats2015", "msd")
MANIFEST = "PHANTOM.json"

NIFTI_SUFFIX = {
    "brats2018": {"t1": "t1", "t1c": "t1ce", "t2": "t2", "flair": "flair", "seg": "seg"},
    "brats2021": {"t1": "t1", "t1c": "t1ce", "t2": "t2", "flair": "flair", "seg": "seg"},
    "brats2023": {"t1": "t1n", "t1c": "t1c", "t2": "t2w", "flair": "t2f", "seg": "seg"},
}
VSD_TOKEN = {"t1": "MR_T1", "t1c": "MR_T1c", "t2": "MR_T2", "flair": "MR_Flair"}
MSD_CHANNELS = ("flair", "t1", "t1c", "t2")
"""Channel order of the Decathlon's 4D images: FLAIR, T1w, t1gd, T2w."""
MSD_LABELS = np.array([0, 2, 1, 0, 3], dtype=np.uint8)
"""BraTS label (0, 1 core, 2 edema, 4 enhancing) -> Decathlon label."""
BRATS2023_LABELS = np.array([0, 1, 2, 0, 3], dtype=np.uint8)
"""BraTS 2017-2021 label -> BraTS 2023+ label (enhancing 4 becomes 3)."""
BRATS2015_LGG_LABELS = np.array([0, 3, 2, 0, 4], dtype=np.uint8)
"""BraTS 2017-2021 label -> BRATS 2015 label for an LGG-like patient, whose core is solid
non-enhancing tumour (3), not necrosis (1)."""


def release_labels(layout: str, patient: Case) -> np.ndarray:
    """The patient's segmentation in the label convention of ``layout``'s release."""
    if layout == "brats2023":
        return BRATS2023_LABELS[patient.seg]
    if layout == "brats2015" and patient.grade == "LGG":
        return BRATS2015_LGG_LABELS[patient.seg]
    if layout == "msd":
        return MSD_LABELS[patient.seg]
    return patient.seg


def case_name(layout: str, index: int) -> str:
    """The case (patient) identifier of phantom patient ``index`` in ``layout``."""
    return {
        "brats2015": f"brats_phantom_pat{index + 1:04d}_1",
        "brats2018": f"Brats18_PHANTOM_{index + 1}_1",
        "brats2021": f"BraTS2021_{index:05d}",
        "brats2023": f"BraTS-GLI-{index:05d}-000",
        "msd": f"BRATS_{index + 1:03d}",
    }[layout]


def top_level_entries(layout: str, patients: int) -> list[str]:
    """The names a phantom cohort of ``patients`` cases has directly under its folder."""
    if layout in ("brats2018", "brats2015"):
        cases = ["HGG", "LGG"]
    elif layout == "msd":
        cases = ["imagesTr", "labelsTr", "dataset.json"]
    else:
        cases = [case_name(layout, i) for i in range(patients)]
    return [*cases, MANIFEST, "README-PHANTOM.txt"]


def write_nifti(path: Path, data: np.ndarray, affine: np.ndarray) -> None:
    """Write a NIfTI-1 file labelled as a phantom in its ``descrip`` field."""
    import nibabel as nib

    img = nib.Nifti1Image(data, affine)
    img.header["descrip"] = PHANTOM_NOTE.encode()[:79]
    img.header.set_xyzt_units("mm")
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, path)


def write_mha(path: Path, data: np.ndarray, affine_lps_storage: np.ndarray) -> None:
    """Write an LPS-stored (x, y, z) array as MetaImage with an identity direction."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(data.transpose(2, 1, 0)))
    ras_origin = affine_lps_storage[:3, 3]
    image.SetOrigin((-float(ras_origin[0]), -float(ras_origin[1]), float(ras_origin[2])))
    image.SetSpacing((1.0, 1.0, 1.0))
    image.SetMetaData("Comment", PHANTOM_NOTE)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path), useCompression=True)


def write_case(root: Path, layout: str, patient: Case) -> str:
    """Write one phantom patient under ``root`` in ``layout``; return its case identifier."""
    name = case_name(layout, patient.index)
    if layout in NIFTI_SUFFIX:
        folder = root / patient.grade / name if layout == "brats2018" else root / name
        sep = "-" if layout == "brats2023" else "_"
        for key, suffix in NIFTI_SUFFIX[layout].items():
            data = release_labels(layout, patient) if key == "seg" else patient.volumes[key]
            write_nifti(folder / f"{name}{sep}{suffix}.nii.gz", data, LPS_AFFINE)
    elif layout == "brats2015":
        folder = root / patient.grade / name
        for k, (key, token) in enumerate(VSD_TOKEN.items()):
            stem = f"VSD.Brain.XX.O.{token}.{54500 + 10 * patient.index + k}"
            write_mha(folder / stem / f"{stem}.mha", patient.volumes[key], LPS_AFFINE)
        stem = f"VSD.Brain_3more.XX.O.OT.{54500 + 10 * patient.index + 4}"
        write_mha(folder / stem / f"{stem}.mha", release_labels(layout, patient), LPS_AFFINE)
    elif layout == "msd":
        ras_affine = np.eye(4)
        ras_affine[:3, 3] = CANONICAL_ORIGIN
        stacked = np.stack([patient.volumes[k][::-1, ::-1, :] for k in MSD_CHANNELS], axis=-1)
        write_nifti(root / "imagesTr" / f"{name}.nii.gz", stacked, ras_affine)
        labels = release_labels(layout, patient)[::-1, ::-1, :]
        write_nifti(root / "labelsTr" / f"{name}.nii.gz", labels, ras_affine)
    else:  # pragma: no cover - make_cohort checks the layout first
        raise ValueError(layout)
    return name


def write_manifest(root: Path, layout: str, seed: int, grades: dict[str, str]) -> None:
    """Write ``PHANTOM.json`` (grades per case) and a README saying it is a phantom."""
    manifest = {
        "phantom": True,
        "note": PHANTOM_NOTE + "; for demos and tests, not a substitute for patients",
        "anatomy": "nilearn's shipped MNI152 2009a (ICBM 152 nonlinear symmetric) 1 mm maps",
        "layout": layout,
        "seed": seed,
        "brainsynth_version": __version__,
        "grades": dict(sorted(grades.items())),
    }
    if layout == "msd":
        write_text_atomic(root / "dataset.json", json.dumps(msd_dataset_json(grades), indent=2))
    write_text_atomic(root / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    write_text_atomic(
        root / "README-PHANTOM.txt",
        "This folder is a brainsynth PHANTOM cohort, synthesised from the MNI152 2009a\n"
        "template (nilearn). It imitates BraTS file layouts for demos and tests.\n"
        "It is NOT patient data.\n",
    )


def msd_dataset_json(grades: dict[str, str]) -> dict:
    """The Decathlon's own ``dataset.json`` for Task01, marked as a phantom."""
    return {
        "name": "BRATS (brainsynth PHANTOM)",
        "description": "brainsynth PHANTOM in the Decathlon Task01 layout; not patient data",
        "tensorImageSize": "4D",
        "modality": {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"},
        "labels": {
            "0": "background",
            "1": "edema",
            "2": "non-enhancing tumor",
            "3": "enhancing tumour",
        },
        "numTraining": len(grades),
        "training": [
            {"image": f"./imagesTr/{n}.nii.gz", "label": f"./labelsTr/{n}.nii.gz"}
            for n in sorted(grades)
        ],
    }
