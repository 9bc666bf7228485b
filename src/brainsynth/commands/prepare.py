"""``brainsynth prepare``: BraTS volumes (any release) -> prepared 2D slices."""

from __future__ import annotations

import argparse

from brainsynth.config import field_default
from brainsynth.data.prepare import GRADES, TUMOR_FILTERS, PrepareConfig
from brainsynth.data.preprocessing import PLANES, RESIZE_MODES


def _default(name: str):
    return field_default(PrepareConfig, name)


HELP = "turn BraTS volumes (any release, or a phantom) into prepared 2D slices"
DESCRIPTION = """\
Finds BraTS cases recursively under SRC (BRATS 2015/2016 .mha, BraTS 2017-2021 and 2023+
NIfTI, Medical Segmentation Decathlon Task01), reorients every volume to canonical RAS+ from
its header, selects slices of one plane, normalises each volume and sequence (clip to the
0.5-99.5 percentiles of the non-zero voxels, scale to [0, 1], background 0) and resizes them
to N x N. Defaults follow Han et al. (ISBI 2018, section 3.1): sagittal slices #80-#149.

Writes OUT/images.npy (uint8, N x 4 x H x W, channels T1, T1c, T2, FLAIR), OUT/masks.npy
(uint8, N x H x W tumour labels: 0 background, 1 necrotic/non-enhancing core, 2 oedema,
3 enhancing; each release's labels mapped onto these, nearest-neighbour resized, all zero for
a case without segmentation), OUT/slices.csv (patient, grade, plane, slice, tumor_pixels =
tumour voxels at the original resolution, segmented = 1/0), OUT/dataset.json (with the label
mapping used) and OUT/config.yaml, and OUT/.brainsynth-owner.json listing them: a second
prepare into OUT replaces only those files (a notes.txt or a runs/ folder of yours in OUT
stays untouched). A folder prepare did not make is refused unless --overwrite; OUT is checked
for writability before any work.

Slice indices count along the canonical axis (sagittal: 0 is the patient's far left).
Display: sagittal superior up, anterior left; coronal superior up, patient's right left;
axial anterior up, patient's right left.

Grades: HGG/LGG come from a folder of that name (2015-2020 releases), else from a phantom's
PHANTOM.json or a name_mapping.csv; other cases are "unknown" and only kept by --grade all.
A bad case is skipped with a warning and listed in dataset.json ("skipped"), unless --strict.
"""


def slice_range(text: str) -> tuple[int, int]:
    """Parse ``A:B`` (B exclusive) into a tuple."""
    try:
        start, stop = (int(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A:B (e.g. 80:150), got {text!r}") from None
    if not 0 <= start < stop:
        raise argparse.ArgumentTypeError(f"need 0 <= A < B, got {text!r}")
    return start, stop


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", metavar="SRC", help="folder holding BraTS cases (any depth)")
    parser.add_argument(
        "out",
        metavar="OUT",
        help="output folder: new, empty, or prepared before (then only prepare's own files "
        "are replaced; anything else in it is left alone)",
    )
    parser.add_argument(
        "--plane",
        choices=tuple(PLANES),
        default=_default("plane"),
        help="slicing plane (default: %(default)s)",
    )
    parser.add_argument(
        "--slices",
        type=slice_range,
        default=_default("slices"),
        metavar="A:B",
        help="slice indices A..B-1 along the canonical axis (default: {}:{})".format(
            *_default("slices")
        ),
    )
    parser.add_argument(
        "--size",
        type=int,
        default=_default("size"),
        metavar="N",
        help="output side length: a power of two from 16 to 1024 (default: %(default)s)",
    )
    parser.add_argument(
        "--resize",
        choices=RESIZE_MODES,
        default=_default("resize"),
        help="stretch to a square, or zero-pad to a square first (default: %(default)s)",
    )
    parser.add_argument(
        "--grade",
        choices=GRADES,
        default=_default("grade"),
        help="keep only cases of this grade (default: %(default)s)",
    )
    parser.add_argument(
        "--tumor",
        choices=TUMOR_FILTERS,
        default=_default("tumor"),
        help="keep slices with / without labelled tumour; needs segmentations "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=_default("workers"),
        metavar="N",
        help="parallel worker processes, one case each (default: %(default)s)",
    )
    parser.add_argument(
        "--preview", metavar="FILE.png", default=None, help="also write a montage PNG"
    )
    parser.add_argument(
        "--strict", action="store_true", help="stop at the first bad case instead of skipping it"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into OUT (and --preview) even where files prepare did not write are in "
        "the way; those are replaced, nothing else is deleted",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from brainsynth.data.prepare import prepare

    config = PrepareConfig(
        plane=args.plane,
        slices=tuple(args.slices),
        size=args.size,
        resize=args.resize,
        grade=args.grade,
        tumor=args.tumor,
        workers=args.workers,
        strict=args.strict,
    )
    preview = Path(args.preview) if args.preview else None
    out = prepare(
        args.src,
        args.out,
        config,
        preview=preview,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    import json

    meta = json.loads((out / "dataset.json").read_text())
    counts = meta["counts"]
    kind = "PHANTOM " if meta.get("phantom") else ""
    print(
        f"prepared {counts['images']} {kind}slices from {counts['cases']} cases "
        f"({counts['cases_skipped']} skipped) into {out}"
    )
    if preview is not None:
        print(f"preview: {preview}")
    return 0
