"""``brainsynth export``: a trained generator as a folder to share, with its model card."""

from __future__ import annotations

import argparse

HELP = "export a run's generator (safetensors + config.json + model card) to share or sample"
DESCRIPTION = """\
Write OUT with what another lab needs to sample the generator of RUN, and nothing else:

  model.safetensors  the generator's weights (its EMA when the run kept one, else the trained
                     weights; --weights ema|raw to insist), no optimiser,
                     discriminator, RNG state or pickle
  config.json        format and version, architecture and its settings, image shape, image
                     set and channel order, class names, output mapping, background floor,
                     brainsynth version, checkpoint iteration, sha256 of the weights and of
                     the training data's dataset.json, patient and image counts
  README.md          the model card: what it generates, the training data and compute, the
                     evaluation (--evaluation), the Visual Turing Test (--vtt-db, --study),
                     intended use and limitations; a warning when trained on the phantom
  manifest.json      the sha256 of the three files above: a file edited or damaged on the
                     way is refused when the export is read (a hash catches accidents, not
                     a forger, who can rewrite the manifest too: publish the sha256 of
                     manifest.json, printed here, where the recipient can check it)

Patient identifiers and paths are left out unless --with-provenance. Everything that reads a
generator reads OUT: brainsynth sample OUT, evaluate --fake OUT, vtt create --fake OUT and
brainsynth.load_generator(OUT) in Python; the same seed gives the run's images exactly.
A run laid out by the pipeline (demo, reproduce: EXP/run beside EXP/metrics.json) reports
its own evaluation unless --evaluation names another.

OUT is new, empty, or an earlier export's folder (then only its four files are replaced);
anything else is refused unless --overwrite, before the run is read.

  brainsynth export runs/sg2-concat exports/sg2-concat
  brainsynth export runs/sg2-concat exports/sg2-concat --evaluation m.json \\
      --vtt-db vtt.sqlite --study 3f2a --overwrite
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("run", metavar="RUN|CHECKPOINT", help="trained run folder or .pt checkpoint")
    add("out", metavar="OUT", help="export folder to write (new, empty, or an earlier export)")
    add("--weights", choices=("auto", "ema", "raw"), default="auto",
        help="ema: the generator's moving average; raw: the trained weights; auto: ema when "
        "the run kept one, else raw (default)")  # fmt: skip
    add("--evaluation", metavar="METRICS.json",
        help="a metrics.json from brainsynth evaluate of this generator, reported in the "
        "card")  # fmt: skip
    add("--vtt-db", metavar="DB", help="a Visual Turing Test database (with --study)")
    add("--study", metavar="ID", help="the study of this generator in --vtt-db")
    add("--with-provenance", action="store_true",
        help="also record the run's and data's paths and the patient identifiers in "
        "config.json (leave off to share outside your institution)")  # fmt: skip
    add("--overwrite", action="store_true",
        help="write into OUT even where files export did not write are in the way (only "
        "model.safetensors, config.json, README.md and manifest.json are replaced)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from brainsynth.export import ExportOptions, export_run

    options = ExportOptions(
        weights=args.weights,
        evaluation=args.evaluation,
        vtt_db=args.vtt_db,
        study=args.study,
        with_provenance=args.with_provenance,
        overwrite=args.overwrite,
    )
    from brainsynth.sampling.manifest import MANIFEST_FILE, sha256_of

    out = export_run(args.run, args.out, options)
    print(f"brainsynth: exported the generator to {out} (model card: {out / 'README.md'}; "
          f"sha256 of {MANIFEST_FILE}: {sha256_of(out / MANIFEST_FILE)})")  # fmt: skip
    return 0
