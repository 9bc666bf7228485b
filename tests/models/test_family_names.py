"""No code outside ``models/`` and the training presets names a family or reads its settings.

The registry answers every "what kind of model is this" question (``Family``), so the rest
of the package must not know the families by name. This scans every module of
``src/brainsynth`` outside ``models/`` and ``training/presets.py`` (their abstract syntax
trees, so comments and docstrings are left alone) for

- a registered family's name as a word in a string (``"ddpm"``, ``"--arch ddpm"``);
- a family-specific key: a field of a family's ``Config``, a constant of its module, or an
  attribute its generator sets that the generic generator does not have, as a string
  (``"sample_steps"``, ``getattr(module, "TRAINER")``) or as an attribute of anything but
  ``self`` (``generator.noise_source``).

What must stay is listed in :data:`ALLOWED` with the reason. The sampler settings every
denoising family shares (``steps``, ``guidance``) are the sampling command's vocabulary,
and the fields of :class:`~brainsynth.models.shape.ModelShape` the generic shape, so neither
counts as a family's key. Three of the families' field names are everyday words that other
parts of the package use for their own things (:data:`EVERYDAY`); those count only where a
model's settings are read (``options``, ``arch_config``).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re
from pathlib import Path

import pytest

import brainsynth
from brainsynth.models import FAMILIES, ModelShape, family, family_names

PACKAGE = Path(brainsynth.__file__).parent
OWNERS = ("models/", "training/presets.py")
EVERYDAY = {
    "width": "image widths, the domain encoder's and the classifiers' widths",
    "noise": "the trainers' random stream (the checkpoint's trainer['noise'])",
    "output": "output folders and files",
}
GENERIC_GENERATOR = {"config", "shape", "num_classes", "latent", "output_mapping", "sampler"}
SETTINGS_READS = re.compile(r"\b(options|arch_config)\b")
LEGACY_KEYS = {"TRAINER", "SUPPORTS_LABELS", "DEFAULT_OBJECTIVE", "SAMPLER_SETTINGS"}
"""What 0.3's family modules declared for the rest to probe; their Family says it now."""
ALLOWED: dict[tuple[str, str], str] = {
    # The objective of the paper's DCGAN is named "dcgan" too (its eq. 1, the logistic game);
    # it is an objective shared by every GAN family, not the family.
    ("paper.py", "dcgan"): "the paper's objective names (Table 1's DCGAN rows, its defaults)",
    ("training/objectives.py", "dcgan"): "the DCGAN objective's NAME, shared by GAN families",
    ("report/table1.py", "dcgan"): "Table 1's rows by objective (DCGAN / WGAN)",
    # Flags 0.1.0 fixed as a contract: shortcuts for --arch-option width= / disc_norm=.
    ("commands/train.py", "width"): "--width, a 0.1.0 flag: the DCGAN's base width",
    ("commands/train.py", "disc_norm"): "--disc-norm, a 0.1.0 flag: the DCGAN critic's norm",
    ("commands/train.py", "dcgan"): "the help of --width and --disc-norm, which are the DCGAN's",
    # The paper's reproduction trains the paper's DCGAN at the paper's half width.
    ("reproduce/run.py", "width"): "brainsynth reproduce --width: the paper's DCGAN's width",
    # The demo names its two models after their families (folders, report labels).
    ("demo/config.py", "dcgan"): "the demo's model names (its folders and report labels)",
    ("demo/config.py", "stylegan2"): "the demo's model names (its folders and report labels)",
}


def family_keys() -> set[str]:
    """Every family's Config fields, module constants and generator attributes that the
    generic generator and shape do not have."""
    keys = set(LEGACY_KEYS)
    for name in family_names():
        found = family(name)
        module = importlib.import_module(FAMILIES[name])
        keys |= set(found.setting_names)
        keys |= {key for key in constants(module) if key != "FAMILY"}
        masks = 3 if "mask" in found.requires else 0  # a SPADE generator needs its mask
        shape = ModelShape(16, latent=8 if found.uses_latent else None, condition_channels=masks)
        generator = found.build(found.Config(), shape)[0]
        keys |= {key for key in vars(generator) if not key.startswith("_")} - {"training"}
    shared = {s.name for name in family_names() for s in family(name).sampler_settings}
    shape_fields = {f.name for f in dataclasses.fields(ModelShape)}
    return keys - shared - shape_fields - GENERIC_GENERATOR


def constants(module: object) -> set[str]:
    """The upper-case names a module assigns at its top level (not those it imports)."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names |= {t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper()}
    return names


def docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def references(source: str, names: set[str], keys: set[str]) -> list[tuple[int, str]]:
    """(line, token) of every family name or family key ``source`` uses (see the module
    docstring)."""
    word = re.compile(r"(?<![\w/-])(" + "|".join(map(re.escape, sorted(names))) + r")(?![\w-])")
    tree = ast.parse(source)
    lines = source.splitlines()
    skip = docstrings(tree)
    found = []
    for node in ast.walk(tree):
        token = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            match = word.search(node.value)
            token = match.group(1) if match else (node.value if node.value in keys else None)
        elif isinstance(node, ast.Attribute) and node.attr in keys:
            owner = node.value
            token = (
                None if isinstance(owner, ast.Name) and owner.id in ("self", "cls") else node.attr
            )
        if token in EVERYDAY and not SETTINGS_READS.search(lines[node.lineno - 1]):
            token = None
        if token is not None:
            found.append((node.lineno, token))
    return found


@pytest.fixture(scope="module")
def keys() -> set[str]:
    return family_keys()


def test_the_check_finds_what_0_3_1_did(keys: set[str]) -> None:
    """The scan finds each kind of leftover the families refactoring removed (lines of
    brainsynth 0.3.1), so a pass below means something."""
    leftovers = {
        'return config["arch_config"].get("sample_steps") is not None': "sample_steps",
        'kind = getattr(architecture(record.arch), "TRAINER", "gan")': "TRAINER",
        'if config.model.arch == "dcgan":\n    pass': "dcgan",
        'options.setdefault("disc_norm", defaults["disc_norm"])': "disc_norm",
        "if hasattr(generator, 'noise_source'):\n    generator.noise_source = f": "noise_source",
        'message = "only diffusion models (--arch ddpm) have sampling steps"': "ddpm",
        'ARCH_NAMES = {"stylegan2": "StyleGAN2"}': "stylegan2",
        'model = ModelConfig(options={"width": config.width})': "width",
    }
    names = set(family_names())
    for line, token in leftovers.items():
        assert token in {t for _, t in references(line, names, keys)}, line
    assert not references('out = folder / "output"; image.width; state["noise"]', names, keys)


def test_no_family_is_named_outside_models_and_presets(keys: set[str]) -> None:
    names = set(family_names())
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(OWNERS):
            continue
        for line, token in references(path.read_text(encoding="utf-8"), names, keys):
            if (relative, token) not in ALLOWED:
                found.append(f"{relative}:{line}: {token}")
    assert not found, "\n".join(found)
