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

Symbolic links are followed, to folders and to files: a cohort is often assembled as a folder
of links into shared storage. A folder reached twice (two links to one case, or a link to a
folder already walked) counts once; a link that loops back to a folder above it, or that
points nowhere, becomes a :class:`Problem` (a one-line warning for ``prepare``), never a
crash or an endless walk.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import sys
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
    broken: list[str] = field(default_factory=list)  # its files whose links lead nowhere

    @property
    def missing(self) -> list[str]:
        """Sequences (of T1, T1c, T2, FLAIR) that were not found."""
        return [s for s in SEQUENCES if s not in self.sequences]

    def source(self) -> dict[str, object]:
        """Where the case was found and what that resolves to through symbolic links
        (``files``: each linked file's target, only when some file is itself a link)."""
        record: dict[str, object] = {"folder": str(self.folder), "resolved": real(self.folder)}
        paths = [*(path for path, _ in self.sequences.values()), self.seg]
        links = {p.name: real(p) for p in paths if p is not None and p.is_symlink()}
        if links:
            record["files"] = dict(sorted(links.items()))
        return record


@dataclass
class Problem:
    """A path that could not be followed: a dangling link or a link that loops."""

    path: Path
    reason: str

    def as_skipped(self) -> dict[str, str]:
        """The entry of ``dataset.json``'s ``skipped`` list."""
        return {"case": self.path.name, "folder": str(self.path), "reason": self.reason}

    def warn(self) -> None:
        """One line on stderr, in the form of ``prepare``'s other skipped cases."""
        print(f"brainsynth: warning: skipping {self.path}: {self.reason}", file=sys.stderr)


def real(path: Path) -> str:
    """``path`` with every symbolic link resolved (as far as they lead)."""
    return os.path.realpath(path)


def broken_link(path: Path) -> str | None:
    """Why ``path`` (a directory entry) cannot be followed, or None when it can."""
    try:
        os.stat(path)
    except OSError as exc:
        if not os.path.islink(path):
            return f"unreadable ({exc.strerror})"
        if exc.errno == errno.ELOOP:
            return f"symlink loop ({os.readlink(path)})"
        return f"dangling symlink to {os.readlink(path)}"
    return None


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


def walk_files(src: Path, problems: list[Problem] | None = None):
    """Every visible file under ``src`` (sorted, so discovery is deterministic), following
    symbolic links to folders and files. Links that lead nowhere or back up the tree are
    reported in ``problems`` (when given) and skipped; a folder reached twice is walked once.
    """
    problems = [] if problems is None else problems
    visited: dict[str, Path] = {real(src): src}
    for root, dirs, files in os.walk(src, followlinks=True):
        here = Path(root)
        kept = []
        for name in sorted(d for d in dirs if not d.startswith(".")):
            path = here / name
            target = real(path)
            if target in visited:
                first = visited[target]
                if first == here or first in here.parents:  # back to a folder we are inside
                    problems.append(Problem(path, f"symlink loop back to {first}"))
                # else: a second way into a folder already walked (e.g. two links to one
                # case); its files are found once, where the walk met it first.
                continue
            visited[target] = path
            kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = here / name
            reason = broken_link(path)
            if reason is None:
                yield path
            else:
                problems.append(Problem(path, reason))


def msd_channels(images_dir: Path) -> dict[str, int]:
    """Channel of each sequence in the Decathlon 4D images (from the task's dataset.json)."""
    meta = images_dir.parent / "dataset.json"
    try:
        modality = json.loads(meta.read_text())["modality"]
        return {MSD_MODALITY[v.lower()]: int(k) for k, v in modality.items()}
    except (OSError, ValueError, KeyError, AttributeError):
        return dict(MSD_DEFAULT_CHANNELS)


def add_file(cases: dict[tuple, Case], path: Path, broken: str | None = None) -> bool:
    """Assign ``path`` to its case if it is a file of a known layout; say whether it was.

    A link that cannot be followed (``broken`` says why) is noted on its case instead, so the
    case is skipped with that reason rather than as merely incomplete.
    """
    name = path.name
    if match := VSD_RE.match(name):
        folder = path.parent.parent if path.parent.name.upper().startswith("VSD.") else path.parent
        case = cases.setdefault((folder,), Case(folder.name, "brats2015", folder))
        seq = VSD_SEQ[match["seq"].lower()]
    elif MSD_RE.match(name) and path.parent.name.lower().startswith("images"):
        patient = name.split(".")[0]
        folder = path.parent
        case = cases.setdefault((folder, patient), Case(patient, "msd", folder))
        if broken is not None:
            case.broken.append(f"{name}: {broken}")
            return True
        for seq, channel in msd_channels(folder).items():
            case.sequences[seq] = (path, channel)
        label = folder.parent / ("labels" + folder.name[len("images") :]) / name
        case.seg = label if label.is_file() else None
        return True
    elif match := NIFTI_RE.match(name):
        patient = match["case"]
        sep = name[len(patient)]
        folder = path.parent
        key = (folder, patient)
        case = cases.setdefault(key, Case(patient, nifti_layout(patient, sep), folder))
        seq = NIFTI_SEQ[match["seq"].lower()]
    else:
        return False
    if broken is not None:
        case.broken.append(f"{name}: {broken}")
    elif seq == "seg":
        case.seg = path
    else:
        case.sequences[seq] = (path, None)
    return True


def read_grades(files: list[Path]) -> dict[str, str]:
    """Grades recorded beside the data: phantom manifests and BraTS ``name_mapping.csv``."""
    grades: dict[str, str] = {}
    for path in (f for f in files if f.name == "PHANTOM.json"):
        try:
            grades.update(json.loads(path.read_text()).get("grades", {}))
        except (OSError, ValueError, AttributeError):
            continue
    for path in (f for f in files if f.name == "name_mapping.csv"):
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


def discover_cases(
    src: str | os.PathLike[str], problems: list[Problem] | None = None
) -> list[Case]:
    """All cases under ``src``, sorted by patient; raises if there are none.

    Links that cannot be followed and belong to no recognisable case go to ``problems`` when
    a list is given, else each is printed as a one-line warning on stderr.
    """
    src = Path(src)
    if not src.exists():
        raise BrainsynthError(f"{src}: no such folder")
    if src.is_file():
        raise BrainsynthError(f"{src}: expected a folder of BraTS cases, got a file")
    found_problems: list[Problem] = []
    files = list(walk_files(src, found_problems))
    cases: dict[tuple, Case] = {}
    for path in files:
        add_file(cases, path)
    unplaced = [p for p in found_problems if not add_file(cases, p.path, p.reason)]
    if problems is None:
        for problem in unplaced:
            print(
                f"brainsynth: warning: skipping {problem.path}: {problem.reason}", file=sys.stderr
            )
    else:
        problems.extend(unplaced)
    if not cases:
        if not files:
            why = f"; {len(unplaced)} links could not be followed" if unplaced else ""
            raise BrainsynthError(f"{src}: folder is empty{why}")
        raise BrainsynthError(
            f"{src}: no BraTS case found (looked for *_t1.nii.gz, BraTS-*-t1n.nii.gz, "
            "VSD.Brain.*.mha and imagesTr/BRATS_*.nii.gz)"
        )
    grades = read_grades(files)
    found = sorted(cases.values(), key=lambda c: (c.patient, str(c.folder)))
    for case in found:
        case.grade = grade_of(case, src, grades)
    return found
