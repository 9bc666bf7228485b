"""``brainsynth export``: the three files, samples equal to the run's, one-line refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import brainsynth
from brainsynth.cli import main
from brainsynth.export import ExportOptions, export_run
from brainsynth.imageio import is_generator_source
from brainsynth.pipeline import load_fake_images
from brainsynth.sampling import generate
from brainsynth.sampling.exported import FORMAT_VERSION, sha256_of
from export_helpers import reseal, tiny_conditional_run


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_thread_module):
    """One torch thread for this module (tests/conftest.py)."""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_conditional_run(tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module")
def exported(run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exports") / "sg2"
    assert main(["export", str(run), str(out)]) == 0
    return out


def test_export_writes_four_files_without_identifiers(exported: Path, run: Path) -> None:
    assert sorted(p.name for p in exported.iterdir() if not p.name.startswith(".")) == [
        "README.md", "config.json", "manifest.json", "model.safetensors"]  # fmt: skip
    config = json.loads((exported / "config.json").read_text())
    assert config["format"] == "brainsynth-generator" and config["format_version"] == 3
    assert config["brainsynth_version"] == brainsynth.__version__
    assert config["arch"] == "stylegan2" and config["arch_config"]["channel_max"] == 8
    assert config["shape"] == {"size": 16, "channels": 1, "latent": 100, "num_classes": 2,
                               "mask_channels": 0, "condition_channels": 0}  # fmt: skip
    assert config["label_names"] == ["without-tumor", "with-tumor"]
    assert config["weights"] == "ema" and config["checkpoint_iteration"] == 4
    assert config["channels"] == ["t2"] and config["image_set"] == "t2"
    data = config["training_data"]
    assert data["patients"] == 3 and data["images"] == 12 and data["phantom"]
    assert len(data["dataset_json_sha256"]) == 64 and "provenance" not in config
    assert config["weights_sha256"] == sha256_of(exported / "model.safetensors")
    manifest = json.loads((exported / "manifest.json").read_text())
    bundle = ("README.md", "config.json", "model.safetensors")
    assert manifest["files"] == {name: sha256_of(exported / name) for name in bundle}
    for name in ("config.json", "README.md"):
        text = (exported / name).read_text()
        assert "SECRET" not in text and str(run.parent) not in text, name
    # safetensors: an 8-byte header length, then JSON; no pickle protocol byte anywhere
    raw = (exported / "model.safetensors").read_bytes()
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
    assert "generator_ema" not in header and any(k.startswith("mapping") for k in header)
    assert not any(k.startswith("disc") or "optim" in k for k in header)


def test_model_card_says_what_it_is(exported: Path) -> None:
    card = (exported / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: brainsynth\n")
    assert "trained on the brainsynth PHANTOM, not on patients" in card
    assert "# StyleGAN2 generator of T2 brain MR slices, 16×16" in card
    for needle in ("| Classes | without-tumor, with-tumor (condition: tumor) |",
                   "| Patients | 3 |", "| Images | 12 (12",
                   "| Images shown | 32 |", "## Intended use", "Not for diagnosis",
                   "realism is **not measured**"):  # fmt: skip
        assert needle in card, needle


@pytest.mark.numerics
def test_export_samples_equal_run_samples(exported: Path, run: Path, tmp_path: Path) -> None:
    for label in (None, "with-tumor"):
        a = generate(run, n=10, seed=3, batch=4, label=label)
        b = generate(exported, n=10, seed=3, batch=4, label=label)
        assert np.array_equal(a, b)
    api = brainsynth.load_generator(exported)
    assert api.label_names == ("without-tumor", "with-tumor")
    images = api.generate(10, seed=3, label="with-tumor", batch=4)
    assert images.dtype == np.float32 and images.shape == (10, 1, 16, 16)
    assert np.array_equal(images, generate(run, n=10, seed=3, batch=4, label="with-tumor"))
    assert np.array_equal(
        brainsynth.load_generator(run).generate(5, seed=1), api.generate(5, seed=1)
    )
    assert not np.array_equal(api.generate(5, seed=1), api.generate(5, seed=2))
    # evaluate and vtt create read generators through load_fake_images
    assert is_generator_source(exported)
    fake, record = load_fake_images(exported, n=6, seed=0)
    assert np.array_equal(fake, generate(run, n=6, seed=0)) and record["export"] == str(exported)
    out = tmp_path / "samples"
    assert main(["sample", str(exported), "--n", "6", "--out", str(out)]) == 0
    assert np.array_equal(np.load(out / "samples.npy"), fake)


def test_provenance_only_when_asked(run: Path, tmp_path: Path) -> None:
    out = export_run(run, tmp_path / "p", ExportOptions(weights="raw", with_provenance=True))
    config = json.loads((out / "config.json").read_text())
    assert config["weights"] == "raw"
    assert config["provenance"]["patients"] == ["SECRET000", "SECRET001", "SECRET002"]
    assert config["provenance"]["run"] == str(run.resolve())
    raw = generate(run, n=4, seed=0, weights="raw")
    assert np.array_equal(generate(out, n=4, seed=0), raw)
    assert not np.array_equal(raw, generate(run, n=4, seed=0, weights="ema"))


def test_output_rule(run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "again"
    assert main(["export", str(run), str(out)]) == 0
    assert main(["export", str(run), str(out)]) == 0  # its own folder: replaced
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(["export", str(tmp_path / "missing-run"), str(theirs)]) == 2
    err = capsys.readouterr().err  # refused before the (missing) run is read
    assert "did not write" in err and "--overwrite" in err and "missing-run" not in err


def tampered_error(folder: Path, capsys) -> str:
    capsys.readouterr()
    code = main(["sample", str(folder), "--n", "2", "--out", str(folder.parent / "s")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err


def copy_export(exported: Path, tmp_path: Path, name: str) -> Path:
    import shutil

    return Path(shutil.copytree(exported, tmp_path / name))


def rewrite_config(folder: Path, **changes) -> None:
    """Edit config.json as a forger would: the manifest rewritten to match, so the checks
    of the fields themselves are what refuses the edit."""
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))
    reseal(folder)


def test_tampered_exports_are_one_line(exported: Path, tmp_path: Path, capsys) -> None:
    from safetensors.torch import load_file, save_file

    bad = copy_export(exported, tmp_path, "bytes")
    raw = bytearray((bad / "model.safetensors").read_bytes())
    raw[-5] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(raw))
    assert "does not match its sha256 in manifest.json" in tampered_error(bad, capsys)

    garbage = copy_export(exported, tmp_path, "garbage")
    (garbage / "model.safetensors").write_bytes(b"\x80\x04not safetensors at all")
    rewrite_config(garbage, weights_sha256=sha256_of(garbage / "model.safetensors"))
    assert "unreadable safetensors file" in tampered_error(garbage, capsys)

    edited = copy_export(exported, tmp_path, "edited")
    config = json.loads((edited / "config.json").read_text())
    rewrite_config(edited, arch_config={**config["arch_config"], "channel_max": 16})
    assert "does not match the model" in tampered_error(edited, capsys)

    missing = copy_export(exported, tmp_path, "missing")
    tensors = load_file(str(missing / "model.safetensors"))
    tensors.pop(sorted(tensors)[0])
    save_file(tensors, str(missing / "model.safetensors"))
    rewrite_config(missing, weights_sha256=sha256_of(missing / "model.safetensors"))
    assert "does not match the model" in tampered_error(missing, capsys)

    reshaped = copy_export(exported, tmp_path, "reshaped")
    tensors = load_file(str(reshaped / "model.safetensors"))
    key = next(k for k, v in tensors.items() if v.ndim >= 2)
    tensors[key] = torch.zeros(3, 3)
    save_file(tensors, str(reshaped / "model.safetensors"))
    rewrite_config(reshaped, weights_sha256=sha256_of(reshaped / "model.safetensors"))
    assert "does not match the model" in tampered_error(reshaped, capsys)

    for name, change, message in (
        ("shape", {"shape": {"size": 16, "pixels": 3}}, "bad shape"),
        ("labels", {"label_names": ["a"]}, "1 label names for 2 classes"),
        ("floor", {"background_floor": 2}, "background_floor 2"),
        ("arch", {"arch": "vae"}, "unknown architecture 'vae'"),
    ):
        folder = copy_export(exported, tmp_path, name)
        rewrite_config(folder, **change)
        assert message in tampered_error(folder, capsys), name
    incomplete = copy_export(exported, tmp_path, "incomplete")
    config = json.loads((incomplete / "config.json").read_text())
    del config["arch_config"]
    (incomplete / "config.json").write_text(json.dumps(config))
    reseal(incomplete)
    assert "missing arch_config" in tampered_error(incomplete, capsys)
    broken = copy_export(exported, tmp_path, "broken-json")
    (broken / "config.json").write_text("{not json")
    assert "unreadable JSON" in tampered_error(broken, capsys)


def test_foreign_and_newer_exports(exported: Path, tmp_path: Path, capsys) -> None:
    foreign = tmp_path / "hf-model"
    foreign.mkdir()
    (foreign / "model.safetensors").write_bytes(b"")
    (foreign / "config.json").write_text(json.dumps({"model_type": "bert"}))
    assert "not a brainsynth export config" in tampered_error(foreign, capsys)
    newer = copy_export(exported, tmp_path, "newer")
    rewrite_config(newer, format_version=FORMAT_VERSION + 1, brainsynth_version="9.1.0")
    err = tampered_error(newer, capsys)
    assert f"format version {FORMAT_VERSION + 1}" in err and "brainsynth 9.1.0 or newer" in err
    with pytest.raises(brainsynth.errors.BrainsynthError, match="holds the ema weights only"):
        brainsynth.load_generator(exported, weights="raw")


def test_loading_an_export_imports_no_training_code(exported: Path) -> None:
    script = (
        "import sys, json, brainsynth\n"
        f"g = brainsynth.load_generator({str(exported)!r})\n"
        "g.generate(2, seed=0)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('brainsynth'))))\n"
    )
    env = {"OMP_NUM_THREADS": "1", "PATH": ""}
    if "PYTHONPATH" in os.environ:  # a source tree given on purpose (e.g. a git worktree)
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=240, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout.strip().splitlines()[-1])
    assert "brainsynth.models.stylegan2" in modules
    assert not [m for m in modules if m.startswith("brainsynth.training")]
    architectures = [m for m in modules if m.startswith("brainsynth.models.")]
    # what GANs share
    assert set(architectures) == {"brainsynth.models.stylegan2", "brainsynth.models.checkpoint",
                                  "brainsynth.models.shape", "brainsynth.models.family",
                                  "brainsynth.models.generator",
                                  "brainsynth.models.mask_encoding",  # masks <-> channels
                                  "brainsynth.models.upgrade"}  # fmt: skip
    for layer in ("metrics", "vtt", "data", "pipeline", "export", "report"):
        assert not [m for m in modules if m.startswith(f"brainsynth.{layer}")], layer


def test_run_without_ema_exports_its_trained_weights(tmp_path: Path, capsys) -> None:
    from blobs import blob_dataset
    from brainsynth.training import DataConfig, ModelConfig, RunConfig, TrainConfig, train

    data = blob_dataset(tmp_path / "prepared")
    run = train(TrainConfig(DataConfig(str(data), "t1"),
                            RunConfig(str(tmp_path / "run"), iters=2, batch=8, progress=False),
                            ModelConfig(options={"width": 4})))  # fmt: skip
    assert main(["export", str(run), str(tmp_path / "ema"), "--weights", "ema"]) == 2
    assert "kept no EMA generator" in capsys.readouterr().err
    out = tmp_path / "dcgan"
    assert main(["export", str(run), str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["weights"] == "raw" and config["arch"] == "dcgan"
    assert not config["training_data"]["phantom"]
    assert "PHANTOM" not in (out / "README.md").read_text()
    assert np.array_equal(generate(out, n=6, seed=2), generate(run, n=6, seed=2))
    data.rename(tmp_path / "moved")  # the training data is gone: the card says so
    assert main(["export", str(run), str(out)]) == 0
    assert "Not known: the prepared data folder was not found" in (out / "README.md").read_text()
    assert not json.loads((out / "config.json").read_text())["training_data"]["available"]


def test_pipeline_evaluation_beside_the_run_is_reported(tmp_path: Path) -> None:
    from brainsynth.export.facts import pipeline_evaluation

    experiment = tmp_path / "exp"
    (experiment / "run").mkdir(parents=True)
    assert pipeline_evaluation(experiment / "run") is None
    (experiment / "metrics.json").write_text("{}")
    assert pipeline_evaluation(experiment / "run") == experiment / "metrics.json"
    assert pipeline_evaluation(experiment) is None  # only a pipeline's EXP/run
