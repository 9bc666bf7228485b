"""Bad input files and flags give one line (exit 2), never a traceback or a silent repair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from blobs import blob_dataset
from brainsynth.cli import main


def evaluate(real: Path, fake: Path, out: Path) -> list[str]:
    args = ["evaluate", "--real", str(real), "--sequence", "t1", "--fake", str(fake)]
    return [*args, "--out", str(out), "--metrics", "diversity", "--quiet"]


@pytest.fixture
def fake16(tmp_path: Path) -> Path:
    path = tmp_path / "fake.npy"
    np.save(path, np.full((8, 1, 16, 16), 0.5, np.float32))
    return path


def test_broken_dataset_json(blob_prepared, fake16, tmp_path, capsys):
    (blob_prepared / "dataset.json").write_text('{"size": 16,')
    assert main(evaluate(blob_prepared, fake16, tmp_path / "m.json")) == 2
    assert "dataset.json: not valid JSON" in capsys.readouterr().err


def test_slices_csv_without_patient(blob_prepared, fake16, tmp_path, capsys):
    path = blob_prepared / "slices.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line.split(",", 1)[1] for line in lines) + "\n")
    assert main(evaluate(blob_prepared, fake16, tmp_path / "m.json")) == 2
    assert "slices.csv: missing column(s) patient" in capsys.readouterr().err


def test_non_square_images_npy_is_refused_by_train(tmp_path, capsys):
    data = blob_dataset(tmp_path / "prepared", size=32)
    images = np.load(data / "images.npy")
    np.save(data / "images.npy", np.ascontiguousarray(images[:, :, :, :16]))
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--gan", "dcgan", "--sequence", "t1", "--out", str(out)]
    assert main([*args, "--iters", "1", "--batch", "4", "--width", "4", "--no-progress"]) == 2
    assert "images are 32x16, not square" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.full((8, 1, 16, 16), 200, np.int16), "images of type int16; expected uint8"),
        (np.full((8, 1, 16, 16), 1.5, np.float32), "values span [1.5, 1.5]; expected float"),
        (np.full((8, 1, 16, 8), 0.5, np.float32), "images are 16x8, not square"),
    ],
)
def test_npy_samples_are_refused_not_clipped(blob_prepared, tmp_path, capsys, array, message):
    fake = tmp_path / "fake.npy"
    np.save(fake, array)
    assert main(evaluate(blob_prepared, fake, tmp_path / "m.json")) == 2
    assert message in capsys.readouterr().err


def test_prepare_size_follows_the_shared_rule(tmp_path, capsys):
    args = ["prepare", str(tmp_path), str(tmp_path / "out"), "--size", "48", "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--size 48: image sides must be a power of two from 16 to 1024" in err
    assert not (tmp_path / "out").exists()
