"""``brainsynth phantom``: write a BraTS-like PHANTOM cohort (not patients)."""

from __future__ import annotations

import argparse

from brainsynth.data.layouts import LAYOUTS

HELP = "write a BraTS-like PHANTOM cohort from nilearn's MNI152 template (not patient data)"
DESCRIPTION = """\
Writes N synthetic patients in the exact file layout of a BraTS release, built from the
MNI152 2009a 1 mm anatomy that nilearn ships (no download): per patient a random smooth
deformation and scaling, a glioma with necrotic core (label 1), edema (2) and enhancing rim
(4) with mass effect (every fourth patient LGG-like, without enhancement), T1/T1c/T2/FLAIR
contrasts with partial volume, a bias field and noise, skull-stripped, in BraTS's
240x240x155 1 mm grid stored LPS, with its segmentation. Deterministic per --seed.

This is a PHANTOM for demos and tests, not a substitute for patients: every file header and
OUT/PHANTOM.json say so.

layouts:
  brats2021  BraTS2021_NNNNN/BraTS2021_NNNNN_{t1,t1ce,t2,flair,seg}.nii.gz
  brats2018  HGG|LGG/<case>/<case>_{t1,t1ce,t2,flair,seg}.nii.gz
  brats2023  BraTS-GLI-NNNNN-000/BraTS-GLI-NNNNN-000-{t1n,t1c,t2w,t2f,seg}.nii.gz
  brats2015  HGG|LGG/<case>/VSD.Brain.XX.O.MR_T1.<id>/VSD.Brain.XX.O.MR_T1.<id>.mha ...
  msd        imagesTr/BRATS_NNN.nii.gz (4D: FLAIR, T1w, t1gd, T2w) + labelsTr/ (RAS)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "out",
        metavar="OUT",
        help="folder for the cohort: new, empty, or a cohort phantom wrote before (then only "
        "its own files are replaced)",
    )
    parser.add_argument(
        "--patients", type=int, required=True, metavar="N", help="number of phantom patients"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default=LAYOUTS[0],
        help="file layout of this BraTS release (default: %(default)s)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into OUT even where files phantom did not write are in the way (those are "
        "replaced; nothing else is deleted)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from brainsynth.phantom import make_cohort

    out = make_cohort(
        args.out,
        args.patients,
        seed=args.seed,
        layout=args.layout,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    print(f"wrote a PHANTOM cohort of {args.patients} patients ({args.layout} layout) to {out}")
    print("note: synthetic data from the MNI152 template, for demos and tests, not patients")
    return 0
