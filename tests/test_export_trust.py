"""A bundle is whole or refused: the manifest, every config field, tensor dtypes and values.

Each edit below is one a recipient could receive (by accident, or from someone who also
rewrote the manifest); each must be one line, exit 2, before any network is built.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from brainsynth.cli import main
from brainsynth.models import stylegan2
from brainsynth.sampling import generate
from export_helpers import reseal, tiny_conditional_run


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_thread_module):
    """One torch thread for this module (tests/conftest.py)."""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tiny_conditional_run(tmp_path_factory.mktemp("trust"))
    out = tmp_path_factory.mktemp("exports") / "sg2"
    assert main(["export", str(run), str(out)]) == 0
    return out


def copy_of(exported: Path, tmp_path: Path, name: str = "copy") -> Path:
    return Path(shutil.copytree(exported, tmp_path / name))


def refusal(folder: Path, capsys) -> str:
    """The one-line error of sampling ``folder``; nothing written."""
    capsys.readouterr()
    out = folder.parent / f"{folder.name}-samples"
    code = main(["sample", str(folder), "--n", "2", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists()
    return err


def edit(folder: Path, seal: bool = True, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    (folder / "config.json").write_text(json.dumps(config))
    if seal:
        reseal(folder)


def test_an_accidental_edit_of_any_file_is_caught_by_the_manifest(
    exported: Path, tmp_path: Path, capsys
) -> None:
    swapped = copy_of(exported, tmp_path, "swapped")
    edit(swapped, seal=False, label_names=["with-tumor", "without-tumor"])
    err = refusal(swapped, capsys)
    assert "config.json: does not match its sha256 in manifest.json" in err
    card = copy_of(exported, tmp_path, "card")
    (card / "README.md").write_text((card / "README.md").read_text() + "\nnotes\n")
    assert "README.md: does not match its sha256" in refusal(card, capsys)
    lost = copy_of(exported, tmp_path, "lost")
    (lost / "manifest.json").unlink()
    assert "manifest.json is missing" in refusal(lost, capsys)
    for name, files, message in (
        ("outside", {"../../etc/passwd": "0" * 64}, "not a file of an export"),
        ("short", {"config.json": "abc"}, "not 64 hex digits"),
        ("partial", {}, "does not list config.json, model.safetensors, README.md"),
    ):
        folder = copy_of(exported, tmp_path, name)
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["files"] = files
        (folder / "manifest.json").write_text(json.dumps(manifest))
        assert message in refusal(folder, capsys), name


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label_names": ["with-tumor", "without-tumor"]},
         "are not those of condition tumor (without-tumor, with-tumor, in this order)"),
        ({"label_names": ["../../x", "/tmp/y"]}, "class name '../../x' is not a plain name"),
        ({"label_names": ["a", "A"]}, "label_names are not unique (ignoring case)"),
        ({"label_names": ["without-tumor"]}, "1 label names for 2 classes"),
        ({"background_floor": 0.9}, "background_floor 0.9 is not a number in [0, 0.5]"),
        ({"background_floor": float("nan")}, "background_floor nan"),
        ({"image_set": "t1"}, "channels must be t1 for image set t1"),
        ({"image_set": "brain"}, "image_set 'brain' is not one of"),
        ({"image_set": "joint", "channels": ["t1", "t1c", "t2", "flair"]},
         "1 channels for image set joint"),
        ({"condition": "sequence"}, "condition sequence does not apply to image set t2"),
        ({"condition": "mood"}, "condition 'mood' is not one of none, tumor, sequence"),
        ({"tumor_threshold": -3}, "tumor_threshold -3"),
        ({"format_version": True}, "format_version True"),
        ({"shape": {"size": 64.0}}, "size must be an integer in 1..1,024, got 64.0"),
        ({"shape": {"size": 2**40}}, "size must be an integer in 1..1,024"),
        ({"shape": {"latent": 10**9}}, "latent must be an integer in 1..4,096"),
        ({"arch_config": {"channel_max": 32.5}}, "channel_max must be an integer, got 32.5"),
        ({"arch_config": {"noise": "yes"}}, "noise must be true or false"),
        ({"arch_config": {"channel_base": 10**7}}, "channel_base must be an integer in"),
        ({"arch_config": {"channel_base": 2**17, "channel_max": 1024, "w_dim": 2048,
                          "mapping_layers": 16}, "shape": {"size": 1024}},
         "parameters, more than the 268,435,456"),
        ({"weights_sha256": "x" * 64}, "its weights_sha256 is not the one in manifest.json"),
        ({"brainsynth_version": "0.3.0\n\x1b[31mrun this"}, None),  # ignored, never shown
    ],
)  # fmt: skip
def test_every_field_is_checked_even_when_the_manifest_was_rewritten(
    exported: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, changes, message
) -> None:
    folder = copy_of(exported, tmp_path)
    edit(folder, **changes)
    if message is None:  # a harmless field: the bundle still samples
        assert main(["sample", str(folder), "--n", "2", "--out", str(tmp_path / "s")]) == 0
        return

    def built(*args, **kwargs):
        raise AssertionError("a network was built before the config was checked")

    monkeypatch.setattr(stylegan2, "FAMILY", dataclasses.replace(stylegan2.FAMILY, build=built))
    assert message in refusal(folder, capsys)


def test_a_deeply_nested_config_is_one_line(exported: Path, tmp_path: Path, capsys) -> None:
    folder = copy_of(exported, tmp_path, "deep")
    text = (folder / "config.json").read_text()
    (folder / "config.json").write_text(text[:-2] + ', "x": ' + "[" * 200_000 + "]" * 200_000 + "}")
    reseal(folder)
    assert "unreadable JSON (nested too deeply)" in refusal(folder, capsys)
    shallow = copy_of(exported, tmp_path, "nested")
    edit(shallow, provenance={"a": json.loads("[" * 100 + "]" * 100)})
    assert "nested more than 32 levels deep" in refusal(shallow, capsys)


def rewrite_tensor(folder: Path, change) -> str:
    """Replace the first float tensor of the bundle by ``change(tensor)``; its name."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / "model.safetensors"))
    key = next(k for k, v in sorted(tensors.items()) if v.is_floating_point() and v.numel() > 1)
    tensors[key] = change(tensors[key])
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "x"})
    edit(folder, weights_sha256=_sha256(folder / "model.safetensors"))
    return key


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t != 0, "is torch.bool, but the model saves torch.float32"),
        (lambda t: t.to(torch.int32), "is torch.int32, but the model saves torch.float32"),
        (lambda t: t.half(), "is torch.float16, but the model saves torch.float32"),
        (lambda t: t.clone().index_fill_(0, torch.tensor([0]), float("nan")), "NaN or infinite"),
        (lambda t: t.clone().index_fill_(0, torch.tensor([0]), float("inf")), "NaN or infinite"),
    ],
)
def test_tensors_must_be_what_the_architecture_saves(
    exported: Path, tmp_path: Path, capsys, change, message
) -> None:
    folder = copy_of(exported, tmp_path)
    key = rewrite_tensor(folder, change)
    err = refusal(folder, capsys)
    assert message in err and key in err  # refused, never cast


@pytest.mark.numerics
def test_a_format_1_export_is_read_with_a_warning(exported: Path, tmp_path: Path, capsys) -> None:
    # what brainsynth 0.3.0 wrote: no manifest, format_version 1
    old = copy_of(exported, tmp_path, "v1")
    (old / "manifest.json").unlink()
    edit(old, seal=False, format_version=1)
    capsys.readouterr()
    images = generate(old, n=4, seed=3)
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "warning" in err and "format version 1" in err and "no hash covers" in err
    assert np.array_equal(images, generate(exported, n=4, seed=3))
    edit(old, seal=False, background_floor=0.9)  # every field is still checked
    assert "background_floor 0.9" in refusal(old, capsys)


def test_class_names_are_the_names_outputs_accept() -> None:
    from brainsynth.outputs import name_problem
    from brainsynth.vocabulary import label_name_problem

    names = ["with-tumor", "t1c", "a.b", "A_1", "x" * 64, "x" * 65, "", ".", "..", ".hidden",
             "end.", "a/b", "/tmp/y", "../../x", "a b", "a\nb", "é", "a..b", 3, None]  # fmt: skip
    for name in names:
        plain = label_name_problem(name) is None
        assert plain == (name_problem(name) is None and ".." not in str(name)), name
