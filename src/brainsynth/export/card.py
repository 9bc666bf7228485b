"""The model card of an export (``README.md``): Hugging Face style front matter, then what the
generator makes, what it was trained on and how, how realistic it measured, what it is for and
what it must not be used for. Everything comes from ``config.json``'s facts and the results
the caller supplies; a missing fact is said to be missing, never made up. Every value that
came from a user or a file (names, keys, descriptions) is shown through
:func:`~brainsynth.export.markdown.escape`: the card holds no Markdown or HTML but its own."""

from __future__ import annotations

from typing import Any

from brainsynth.export.markdown import escape
from brainsynth.export.metrics_table import metrics_rows
from brainsynth.models.checkpoint import ModelRecord
from brainsynth.models.family import KINDS

PHANTOM_WARNING = (
    "> **Warning: trained on the brainsynth PHANTOM, not on patients.** The training images\n"
    "> were rendered from the MNI152 template with simulated tumours (`brainsynth phantom`).\n"
    "> This generator demonstrates the workflow; its images say nothing about real anatomy\n"
    "> or pathology and must not be used as, or in place of, patient data."
)


def _n(value: Any, unit: str = "") -> str:
    """A number as the card shows it; anything else escaped (a value read from a file)."""
    if value is None:
        return "not recorded"
    if isinstance(value, float):
        return f"{value:,.4g}{unit}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}{unit}"
    return f"{escape(value)}{unit}"


def _slices(value: Any) -> str | None:
    """``#a–#b`` of a recorded half-open slice range [a, b), or None when it is not one."""
    if isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value):
        return f"#{value[0]}–#{value[1] - 1}"
    return None


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return "not recorded"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _table(rows: list[tuple[str, str]], head: tuple[str, str] = ("Property", "Value")) -> list[str]:
    lines = [f"| {head[0]} | {head[1]} |", "|---|---|"]
    return lines + [f"| {key} | {value} |" for key, value in rows]


def front_matter(config: dict[str, Any], model: ModelRecord) -> list[str]:
    data = config["training_data"]
    tags = ["brainsynth", model.family.kind, model.family.name, "mri", "brain",
            "synthetic-data"]  # fmt: skip
    if data.get("phantom"):
        tags.append("phantom")
    task = "image-generation" if config["label_names"] else "unconditional-image-generation"
    if model.shape.condition_channels:  # an image drawn for a given tumour mask
        task = "image-to-image"
    return [
        "---",
        "library_name: brainsynth",
        f"pipeline_tag: {task}",
        "tags:",
        *(f"- {tag}" for tag in tags),
        "---",
        "",
    ]  # fmt: skip


SET_NAMES = {"concat": "Concat", "joint": "joint four-sequence", "t1c": "T1c", "flair": "FLAIR"}


def title(config: dict[str, Any], model: ModelRecord) -> str:
    size = config["shape"]["size"]
    image_set = SET_NAMES.get(config["image_set"]) or escape(str(config["image_set"]).upper())
    return f"# {model.family.display_name} generator of {image_set} brain MR slices, {size}×{size}"


def _channels(config: dict[str, Any]) -> str:
    if config["image_set"] == "concat":
        return "one channel; each image is a T1, T1c, T2 or FLAIR slice"
    names = [SET_NAMES.get(c) or escape(str(c).upper()) for c in config["channels"]]
    return "channel " + names[0] if len(names) == 1 else "channels " + ", ".join(names)


def what_it_generates(config: dict[str, Any], model: ModelRecord) -> list[str]:
    shape, data = config["shape"], config["training_data"]
    plane = escape(data.get("plane") or "sagittal")
    slices = _slices(data.get("slice_range"))
    where = f"{plane} slices" + (f" {slices}" if slices else "")
    classes = ", ".join(map(escape, config["label_names"])) or "none (unconditional)"
    floor = config["background_floor"]
    rows = [
        ("Images", f"{escape(config['image_set_description'])}; {where}"),
        ("Shape", f"{shape['channels']} × {shape['size']} × {shape['size']} ({_channels(config)})"),
        ("Values", "float32 in [0, 1]: " + escape(config["output_mapping"], 500)),
        ("Background floor", f"pixels below {floor:g} set to 0" if floor else "off"),
        ("Classes", classes + (f" (condition: {config['condition']})"
                               if config["label_names"] else "")),
        ("Tumour masks", _masks(model)),
        ("Architecture", f"{model.family.display_name}, {config.get('parameters', 0):,} "
                         "generator parameters; "
                         f"{model.family.describe_sampler(model.config, model.shape)}"),
        ("Weights", f"{config['weights']} (`model.safetensors`, generator only)"),
        ("Checkpoint", f"iteration {config['checkpoint_iteration']:,}, brainsynth "
                       f"{config['brainsynth_version']}"),
    ]  # fmt: skip
    return ["## What it generates", "", *_table(rows), ""]


def _masks(model: ModelRecord) -> str:
    """What the card says of tumour masks: generated with each image, given, or none."""
    shape = model.shape
    encoding = {3: "one-hot, 3 channels", 1: "one scalar channel"}
    if shape.mask_channels:
        return ("generated with each image (image + mask pairs; "
                f"{encoding.get(shape.mask_channels, '?')}): `sample` writes `masks.npy`, labels "
                "0 background, 1 necrotic core, 2 oedema, 3 enhancing")  # fmt: skip
    if shape.condition_channels:
        return ("given: one image is drawn for each tumour mask (`sample --from-masks`; "
                f"{encoding.get(shape.condition_channels, '?')})")  # fmt: skip
    return "none"


def usage(model: ModelRecord | None = None) -> list[str]:
    shape = model.shape if model is not None else None
    if shape is not None and shape.condition_channels:
        line = "brainsynth sample THIS_FOLDER --from-masks MASKS.npy --out samples/"
        python = "images = generator.generate_from_masks(masks, seed=0)  # one per (H, W) mask"
    elif shape is not None and shape.mask_channels:
        line = "brainsynth sample THIS_FOLDER --n 1000 --out samples/  # + masks.npy"
        python = "images, masks = generator.generate_pairs(16, seed=0)"
    else:
        line = "brainsynth sample THIS_FOLDER --n 1000 --out samples/ --grid grid.png"
        python = "images = generator.generate(16, seed=0)  # (16, C, H, W) float32 in [0, 1]"
    return [
        "## How to use it",
        "",
        "```bash",
        line,
        "brainsynth evaluate --real PREPARED --sequence SET --fake THIS_FOLDER --out metrics.json",
        "```",
        "",
        "```python",
        "import brainsynth",
        "generator = brainsynth.load_generator('THIS_FOLDER')",
        python,
        "```",
        "",
        "The same seed gives the same images as the training run it came from.",
        "",
    ]


def training_data_section(data: dict[str, Any]) -> list[str]:
    lines = ["## Training data", ""]
    if not data.get("available"):
        return lines + [f"Not known: {escape(data.get('note'))}. The image set was "
                        f"{escape(data.get('image_set'))}.", ""]  # fmt: skip
    source = "brainsynth PHANTOM (MNI152 template, simulated tumours)" if data["phantom"] else (
        "BraTS-style MR volumes")  # fmt: skip
    layouts = ", ".join(f"{escape(k)} ({_n(v)} patients)" for k, v in data["layouts"].items())
    grades = ", ".join(f"{escape(k)}: {_n(v)}" for k, v in data["grades"].items())
    slices = _slices(data.get("slice_range"))
    plane = escape(data.get("plane"))
    patients = _n(data["patients"])
    if data["patients_restricted"]:
        patients += f" (a chosen subset of the folder's {_n(data['patients_in_folder'])})"
    rows = [
        ("Source", source),
        ("Release / layout", layouts or "not recorded"),
        ("Grades", (grades or "not recorded") + f" (filter: {escape(data.get('grade_filter'))})"),
        ("Plane and slices", f"{plane}, {slices}" if slices else plane),
        ("Size", f"{_n(data.get('size'))}×{_n(data.get('size'))} ({escape(data.get('resize'))})"),
        ("Patients", patients),
        ("Images", f"{_n(data['images'])} ({_n(data['slices'])} slices)"),
        ("Normalisation", escape(data.get("normalization"))),
        ("`dataset.json` sha256", f"`{escape(data['dataset_json_sha256'])}`"),
    ]  # fmt: skip
    note = ("No patient identifiers or paths are in this folder; the hash identifies the "
            "prepared data set for whoever holds it.")  # fmt: skip
    return lines + _table(rows) + ["", note, ""]


def _settings(train: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    objective = train.get("objective")
    if isinstance(objective, dict):
        extra = [f"R1 γ {_n(objective['r1_gamma'])}"] if objective.get("r1_gamma") else []
        critic = objective.get("n_critic", 1)
        extra += [f"{_n(critic)} critic steps"] if _is_number(critic) and critic > 1 else []
        rows.append(("Objective", ", ".join([escape(objective.get("name")), *extra])))
    elif objective:
        rows.append(("Objective", escape(objective)))
    opt = train.get("optimizer")
    if isinstance(opt, dict):
        betas = opt.get("betas")
        betas = f", betas ({', '.join(map(_n, betas))})" if isinstance(betas, list) else ""
        rows.append(("Optimiser", f"{escape(opt.get('kind'))} lr {_n(opt.get('lr'))}{betas}"))
    ema = train.get("ema")
    if isinstance(ema, dict):
        half = ema.get("half_life_kimg") or 0
        rows.append(("EMA", f"half-life {_n(half)} kimg" if half else "off"))
    aug = train.get("augment")
    if isinstance(aug, dict):
        policy = aug.get("policy") if isinstance(aug.get("policy"), list) else []
        ada = f", adaptive (ADA target {_n(aug['ada_target'])})" if aug.get("ada_target") else ""
        rows.append(
            ("Augmentation", (", ".join(map(escape, policy)) or "none") + (ada if policy else ""))
        )
    return rows  # fmt: skip


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _processes(count: Any) -> str:
    count = count if isinstance(count, int) and not isinstance(count, bool) else 1
    return "1 process" if count == 1 else f"{count} processes (torchrun)"


def training_section(compute: dict[str, Any], train: dict[str, Any]) -> list[str]:
    iters = _n(compute["iterations"])
    if compute.get("iterations_requested") and not compute["finished"]:
        iters += f" of {_n(compute['iterations_requested'])} requested (not finished)"
    rows = _settings(train) + [
        ("Iterations", iters + " generator updates"),
        ("Batch", _n(compute.get("batch"))),
        ("Images shown", _n(compute.get("images_shown"))),
        ("Wall time", _duration(compute.get("wall_seconds"))),
        ("CPU time", _duration(compute.get("cpu_seconds"))),
        ("Device", f"{_n(compute.get('device'))}; {_processes(compute.get('processes'))}, "
                   f"{escape(compute.get('precision') or 'fp32')}"),
    ]  # fmt: skip
    note = ("Times are those of the session that completed the run (a resumed run's earlier "
            "sessions are not added).")  # fmt: skip
    return ["## Training", "", *_table(rows), "", note, ""]


def evaluation_section(metrics: dict[str, Any] | None, source: str | None) -> list[str]:
    lines = ["## Evaluation", ""]
    if metrics is None:
        return lines + [
            "No evaluation was given to `brainsynth export` (`--evaluation metrics.json`): "
            "this generator's realism is **not measured** here.",
            "",
        ]
    rows = metrics_rows(metrics)
    head = (f"From {escape(source)}: {_n(metrics.get('n_real'))} real images "
            f"({_n(metrics.get('n_real_patients'))} patients) against "
            f"{_n(metrics.get('n_fake'))} synthetic, {escape(metrics.get('sequence', '?'))} "
            f"{_n(metrics.get('image_size', '?'))} px. Intervals are 95 %.")  # fmt: skip
    table = ["| Metric | Value | 95 % interval |", "|---|---|---|"]
    table += [f"| {name} | {value} | {ci} |" for name, value, ci in rows]
    note = (
        "How to read it: a classifier two-sample test (C2ST) accuracy of 0.5 means a trained "
        "CNN cannot tell synthetic from real slices; the gap subtracts what it scores between "
        "two halves of the real patients, so 0 is the goal. Lower distances (Fréchet, KID), "
        "higher precision/recall/coverage and MS-SSIM within synthetic near the real value "
        "are better; a memorised fraction above the expected rate means copied training images."
    )
    return lines + [head, "", *table, "", note, ""]


def vtt_section(vtt: dict[str, Any] | None) -> list[str]:
    if vtt is None:
        return []
    acc = vtt.get("accuracy")
    low, high = vtt.get("wilson_ci") or (None, None)
    lines = ["## Visual Turing Test", ""]
    if acc is None:
        return lines + [f"Study *{escape(vtt['name'])}* has no answers yet.", ""]
    kappa = vtt.get("kappa")
    rows = [
        ("Study", f"{escape(vtt['name'])} ({_n(vtt['n_real'])} real + {_n(vtt['n_fake'])} "
                  "synthetic images)"),
        ("Raters", f"{len(vtt['raters'])}" + ("" if vtt["complete"] else " (not all finished)")),
        ("Accuracy", f"{100 * acc:.1f} % [{100 * low:.1f}, {100 * high:.1f}] (Wilson 95 %), "
                     f"p = {vtt['p_value']:.3g} against 50 %"),
        ("Real as real / as synthetic",
         f"{_n(vtt['real_as_real'])} / {_n(vtt['real_as_synthetic'])}"),
        ("Synthetic as real / as synthetic",
         f"{_n(vtt['synthetic_as_real'])} / {_n(vtt['synthetic_as_synthetic'])}"),
        ("Agreement", f"{escape(vtt['kappa_method'])} κ {kappa:.2f}" if kappa is not None
         else "n/a"),
    ]  # fmt: skip
    note = "50 % accuracy means the raters could not tell synthetic from real images."
    return lines + _table(rows) + ["", note, ""]


def use_and_limits(config: dict[str, Any]) -> list[str]:
    phantom = config["training_data"].get("phantom")
    size = config["shape"]["size"]
    lines = [
        "## Intended use",
        "",
        "- Research on data augmentation: extra training images for tumour detection or "
        "segmentation models, measured against the same model without them "
        "(`brainsynth augment-eval`).",
        "- Physician training and reader studies: teaching material and Visual Turing Tests "
        "(`brainsynth vtt`).",
        "",
        "## Out of scope and limitations",
        "",
        "- **Not for diagnosis** or any clinical decision, and not a medical device.",
        f"- Single 2D slices at {size}×{size}: no volumes, no consistency between neighbouring "
        "slices, no physical intensity scale (each volume was normalised to its own "
        "percentiles).",
        "- It can only reproduce what its training data held: the scanners, grades and "
        "population of the training set; rare findings are likely missing or distorted.",
        "- A generator can copy training images; check memorisation (`brainsynth evaluate` reports "
        "it) before sharing its samples as if they were free of patient data.",
    ]
    if phantom:
        lines.append("- Trained on phantom images: nothing it makes is patient-like.")
    return lines + [""]


def model_card(
    config: dict[str, Any],
    model: ModelRecord,
    train: dict[str, Any],
    evaluation: dict[str, Any] | None = None,
    evaluation_file: str | None = None,
    vtt: dict[str, Any] | None = None,
) -> str:
    """The model card, Markdown, of the export ``config`` of ``model``."""
    lines = [*front_matter(config, model), title(config, model), ""]
    if config["training_data"].get("phantom"):
        lines += [PHANTOM_WARNING, ""]
    lines += [
        f"Synthetic brain MR slices from a {KINDS[model.family.kind]} trained with "
        "brainsynth after Han et al., *GAN-based synthetic "
        "brain MR image generation* (ISBI 2018). This folder holds the generator only: "
        "`model.safetensors` (weights), `config.json` (what they are), this card and "
        "`manifest.json` (the sha256 of the three; an edited file is refused when loaded).",
        "",
    ]
    lines += what_it_generates(config, model) + usage(model)
    lines += training_data_section(config["training_data"])
    lines += training_section(config["training"], train)
    lines += evaluation_section(evaluation, evaluation_file) + vtt_section(vtt)
    lines += use_and_limits(config)
    lines += [
        "## Citation",
        "",
        "Han C, Hayashi H, Rundo L, et al. GAN-based synthetic brain MR image generation. "
        "IEEE ISBI 2018, pp. 734–738.",
        "",
    ]
    return "\n".join(lines)
