"""Find BraTS cases recursively under a folder, in the layout of every release.

Recognised (any depth, hidden and macOS ``._*`` files skipped):

- BRATS 2015/2016 MetaImage: ``<case>/VSD.Brain.XX.O.MR_{T1,T1c,T2,Flair}.<id>/*.mha`` and the
  label ``VSD.Brain_*more*.XX.O.OT.<id>`` (the sequence token matters, the numeric id varies);
  ``.nrrd`` is accepted as well;
- BraTS 2017-2020: ``<case>_{t1,t1ce,t2,flair,seg}.nii[.gz]`` (with or without ``HGG/``,
  ``LGG/``); BraTS 2021: ``BraTS2021_NNNNN_...``;
- BraTS 2023+: ``BraTS-{GLI,MEN,MET,PED,SSA}-NNNNN-NNN-{t1n,t1c,t2w,t2f,seg}.nii[.gz]``;
- Medical Segmentation Decathlon Task01: 4D ``imagesTr/BRATS_NNN.nii.gz`` (channels FLAIR,
  T1w, t1gd, T2w, or as named by the task's ``dataset.json``) with ``labelsTr/``.

The grade is ``HGG``/``LGG`` from a folder of that name (2015-2020 releases), else from a
brainsynth phantom's ``PHANTOM.json`` or a BraTS 2019/2020 ``name_mapping.csv``, else
``unknown``. A case without a segmentation (validation data) is fine.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from brainsynth.errors import BrainsynthError
from brainsynth.paper import SEQUENCES

NIFTI_RE = re.compile(
    r"^(?P<case>.+?)[_-](?P<seq>t1ce|t1c|t1n|t1|t2w|t2f|t2|flair|seg)\.nii(\.gz)?$", re.I
)
NIFTI_SEQ = {
    "t1": "t1",
    "t1n": "t1",
    "t1ce": "t1c",
    "t1c": "t1c",
    "t2": "t2",
    "t2w": "t2",
    "flair": "flair",
    "t2f": "flair",
    "seg": "seg",
}
VSD_RE = re.compile(
    r"^VSD\.Brain(?:_[^.]*more[^.]*)?\.XX\.O\.(?P<seq>MR_T1c|MR_T1|MR_T2|MR_Flair|OT)\.\d+"
    r"\.(mha|nrrd)$",
    re.I,
)
VSD_SEQ = {"mr_t1": "t1", "mr_t1c": "t1c", "mr_t2": "t2", "mr_flair": "flair", "ot": "seg"}
MSD_RE = re.compile(r"^BRATS_\d+\.nii(\.gz)?$", re.I)
MSD_MODALITY = {"flair": "flair", "t1w": "t1", "t1gd": "t1c", "t2w": "t2"}
MSD_DEFAULT_CHANNELS = {"flair": 0, "t1": 1, "t1c": 2, "t2": 3}


@dataclass
class Case:
    """One patient: where each sequence is (path and, for 4D files, the channel)."""

    patient: str
    layout: str
    folder: Path
    grade: str = "unknown"
    sequences: dict[str, tuple[Path, int | None]] = field(default_factory=dict)
    seg: Path | None = None

    @property
    def missing(self) -> list[str]:
        """Sequences (of T1, T1c, T2, FLAIR) that were not found."""
        return [s for s in SEQUENCES if s not in self.sequences]


def nifti_layout(case: str, sep: str) -> str:
    """The BraTS release a NIfTI case name belongs to."""
    lower = case.lower()
    if sep == "-" and lower.startswith("brats-"):
        return "brats2023"
    for prefix, layout in (
        ("brats2021_", "brats2021"),
        ("brats20_", "brats2020"),
        ("brats19_", "brats2019"),
        ("brats18_", "brats2018"),
        ("brats17_", "brats2017"),
    ):
        if lower.startswith(prefix):
            return layout
    return "brats-nifti"


def walk_files(src: Path):
    """Every visible file under ``src`` (sorted, so discovery is deterministic)."""
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def msd_channels(images_dir: Path) -> dict[str, int]:
    """Channel of each sequence in the Decathlon 4D images (from the task's dataset.json)."""
    meta = images_dir.parent / "dataset.json"
    try:
        modality = json.loads(meta.read_text())["modality"]
        return {MSD_MODALITY[v.lower()]: int(k) for k, v in modality.items()}
    except (OSError, ValueError, KeyError, AttributeError):
        return dict(MSD_DEFAULT_CHANNELS)


def add_file(cases: dict[tuple, Case], path: Path) -> None:
    """Assign ``path`` to its case if it is a file of a known layout."""
    name = path.name
    if match := VSD_RE.match(name):
        folder = path.parent.parent if path.parent.name.upper().startswith("VSD.") else path.parent
        case = cases.setdefault((folder,), Case(folder.name, "brats2015", folder))
        seq = VSD_SEQ[match["seq"].lower()]
    elif MSD_RE.match(name) and path.parent.name.lower().startswith("images"):
        patient = name.split(".")[0]
        folder = path.parent
        case = cases.setdefault((folder, patient), Case(patient, "msd", folder))
        for seq, channel in msd_channels(folder).items():
            case.sequences[seq] = (path, channel)
        label = folder.parent / ("labels" + folder.name[len("images") :]) / name
        case.seg = label if label.is_file() else None
        return
    elif match := NIFTI_RE.match(name):
        patient = match["case"]
        sep = name[len(patient)]
        folder = path.parent
        key = (folder, patient)
        case = cases.setdefault(key, Case(patient, nifti_layout(patient, sep), folder))
        seq = NIFTI_SEQ[match["seq"].lower()]
    else:
        return
    if seq == "seg":
        case.seg = path
    else:
        case.sequences[seq] = (path, None)


def read_grades(src: Path) -> dict[str, str]:
    """Grades recorded beside the data: phantom manifests and BraTS ``name_mapping.csv``."""
    grades: dict[str, str] = {}
    for path in sorted(src.rglob("PHANTOM.json")):
        try:
            grades.update(json.loads(path.read_text()).get("grades", {}))
        except (OSError, ValueError, AttributeError):
            continue
    for path in sorted(src.rglob("name_mapping.csv")):
        try:
            with path.open(newline="") as handle:
                for row in csv.DictReader(handle):
                    grade = (row.get("Grade") or "").upper()
                    for key, value in row.items():
                        if grade in ("HGG", "LGG") and key and key.startswith("BraTS_20") and value:
                            grades[value] = grade
        except (OSError, csv.Error):
            continue
    return grades


def grade_of(case: Case, src: Path, grades: dict[str, str]) -> str:
    """HGG/LGG from a folder name between ``src`` and the case, else recorded, else unknown."""
    try:
        parts = case.folder.relative_to(src).parts
    except ValueError:
        parts = case.folder.parts
    for part in reversed(parts):
        if part.upper() in ("HGG", "LGG"):
            return part.upper()
    return grades.get(case.patient, "unknown")


def discover_cases(src: str | os.PathLike[str]) -> list[Case]:
    """All cases under ``src``, sorted by patient; raises if there are none."""
    src = Path(src)
    if not src.exists():
        raise BrainsynthError(f"{src}: no such folder")
    if src.is_file():
        raise BrainsynthError(f"{src}: expected a folder of BraTS cases, got a file")
    files = list(walk_files(src))
    if not files:
        raise BrainsynthError(f"{src}: folder is empty")
    cases: dict[tuple, Case] = {}
    for path in files:
        add_file(cases, path)
    if not cases:
        raise BrainsynthError(
            f"{src}: no BraTS case found (looked for *_t1.nii.gz, BraTS-*-t1n.nii.gz, "
            "VSD.Brain.*.mha and imagesTr/BRATS_*.nii.gz)"
        )
    grades = read_grades(src)
    found = sorted(cases.values(), key=lambda c: (c.patient, str(c.folder)))
    for case in found:
        case.grade = grade_of(case, src, grades)
    return found
