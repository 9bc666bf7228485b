"""``evaluate`` writes only inside its output folder, into folders it owns (issue 24, item 1).

Reproduction 1: class names of the samples (``labels.csv``, an export's ``label_names``)
became folder names unchecked, so ``../../x`` and an absolute path wrote outside ``--out``'s
folder; and with honest names a user's ``t2/spectrum.png`` beside ``--out`` was replaced.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from blobs import blob_dataset, labelled_dataset
from brainsynth.cli import main
from brainsynth.data.dataset import load_prepared
from cli_run import snapshot

MARKER = ".brainsynth-owner.json"
DIAGNOSTICS = ["--metrics", "diagnostics", "--quiet", "--threads", "1"]


def labelled_samples(folder: Path, images: np.ndarray, labels: list[str], condition: str) -> Path:
    """A samples folder as ``sample`` writes it for a conditional run (labels.csv beside)."""
    folder.mkdir(parents=True)
    np.save(folder / "samples.npy", images.astype(np.float32))
    (folder / "sampling.json").write_text(json.dumps({"condition": condition}))
    rows = [f"{i:06d}.png,0,{name}" for i, name in enumerate(labels)]
    (folder / "labels.csv").write_text("\n".join(["file,label_id,label", *rows]) + "\n")
    return folder


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("brainsynth: error: "), err
    return lines[0]


@pytest.mark.parametrize("hostile", ["../../x", "ABSOLUTE", "a/b", "..", ".hidden"])
def test_class_names_from_the_samples_never_lead_outside_the_output_folder(
    tmp_path, capsys, hostile
):
    data = labelled_dataset(tmp_path / "prepared", patients=4, slices=6)
    if hostile == "ABSOLUTE":
        hostile = str(tmp_path / "elsewhere" / "y")
    images = load_prepared(data).image_set("t1").float_images()[:24]
    samples = labelled_samples(
        tmp_path / "samples", images, ["with-tumor"] * 12 + [hostile] * 12, "tumor"
    )
    out = tmp_path / "deep" / "a" / "m.json"
    before = snapshot(tmp_path)
    args = ["evaluate", "--real", str(data), "--sequence", "t1", "--fake", str(samples)]

    assert main([*args, "--out", str(out), *DIAGNOSTICS]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"class name {hostile!r}" in line and "cannot name an output" in line
    assert snapshot(tmp_path) == before  # nothing created, changed or deleted anywhere
    assert main([*args, "--out", str(out), *DIAGNOSTICS, "--overwrite"]) == 2
    assert snapshot(tmp_path) == before


def concat_samples(tmp_path: Path) -> tuple[Path, Path]:
    """4 blob patients and 12 't1' + 12 't2' samples labelled by sequence."""
    data = blob_dataset(tmp_path / "prepared", patients=4, slices=6)
    prepared = load_prepared(data)
    images = np.concatenate([prepared.image_set(name).float_images()[:12] for name in ("t1", "t2")])
    labels = ["t1"] * 12 + ["t2"] * 12
    return data, labelled_samples(tmp_path / "samples", images, labels, "sequence")


def test_a_users_folder_named_like_a_class_beside_out_is_left_alone(tmp_path, capsys):
    data, samples = concat_samples(tmp_path)
    beside = tmp_path / "deep" / "a"
    (beside / "t2").mkdir(parents=True)
    (beside / "t2" / "spectrum.png").write_bytes(b"the user's own figure")
    before = snapshot(tmp_path)
    args = ["evaluate", "--real", str(data), "--sequence", "concat", "--fake", str(samples)]

    assert main([*args, "--out", str(beside / "m.json"), *DIAGNOSTICS]) == 2
    line = one_line(capsys.readouterr().err)
    assert "t2: exists and was not written by 'brainsynth evaluate'" in line
    assert snapshot(tmp_path) == before
    assert main([*args, "--out", str(tmp_path / "new" / "t2"), *DIAGNOSTICS]) == 2
    assert "the folder of class t2 goes beside the JSON" in one_line(capsys.readouterr().err)
    assert snapshot(tmp_path) == before

    # in a folder of its own, every class gets a folder evaluate made and may reuse
    out = tmp_path / "eval" / "m.json"
    for _ in range(2):
        assert main([*args, "--out", str(out), *DIAGNOSTICS]) == 0
    metrics = json.loads(out.read_text())
    assert list(metrics["per_label"]) == ["t1", "t2"]
    for name in ("t1", "t2"):
        marker = json.loads((out.parent / name / MARKER).read_text())
        assert marker["command"] == "evaluate"
        assert (out.parent / name / "spectrum.png").is_file()
    top = json.loads((out.parent / MARKER).read_text())["files"]
    assert {"m.json", "t1", "t2", "spectrum.png"} <= set(top)


def test_evaluate_never_writes_through_a_link_among_its_outputs(tmp_path, capsys):
    data, samples = concat_samples(tmp_path)
    out = tmp_path / "eval" / "m.json"
    args = ["evaluate", "--real", str(data), "--sequence", "concat", "--fake", str(samples)]
    assert main([*args, "--out", str(out), *DIAGNOSTICS]) == 0
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("precious")
    for link in (out.parent / "spectrum.png", out.parent / "t2" / "spectrum.png"):
        saved = link.read_bytes()
        link.unlink()
        link.symlink_to(elsewhere)
        before = snapshot(tmp_path)
        for extra in ([], ["--overwrite"]):
            assert main([*args, "--out", str(out), *DIAGNOSTICS, *extra]) == 2
            assert "spectrum.png: is a symbolic link" in one_line(capsys.readouterr().err)
            assert snapshot(tmp_path) == before
        link.unlink()
        link.write_bytes(saved)
    (out.parent / "t1").rename(tmp_path / "t1-real")
    (out.parent / "t1").symlink_to(tmp_path / "t1-real")  # a class folder that is a link
    before = snapshot(tmp_path)
    assert main([*args, "--out", str(out), *DIAGNOSTICS, "--overwrite"]) == 2
    assert "t1: is a symbolic link" in one_line(capsys.readouterr().err)
    assert snapshot(tmp_path) == before


UNLABELLED_ROWS = "file,label_id,label\n" + "".join(f"{i:06d}.png,0\n" for i in range(24))


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [("labels.csv", "file,label_id\n000000.png,0\n", "no 'label' column"),
     ("labels.csv", UNLABELLED_ROWS, "class name '' cannot name an output (empty)"),
     ("sampling.json", "[1, 2]", "not a sampling record"),
     ("sampling.json", "{", "not valid JSON"),
     ("sampling.json", '{"condition": "sequence", "tumor_threshold": "x"}', "is not a number")],
)  # fmt: skip
def test_a_malformed_labels_or_sampling_file_is_one_line(tmp_path, capsys, file, text, message):
    data, samples = concat_samples(tmp_path)
    (samples / file).write_text(text)
    before = snapshot(tmp_path)
    args = ["evaluate", "--real", str(data), "--sequence", "concat", "--fake", str(samples)]
    assert main([*args, "--out", str(tmp_path / "eval" / "m.json"), *DIAGNOSTICS]) == 2
    assert message in one_line(capsys.readouterr().err)
    assert snapshot(tmp_path) == before


def test_joint_samples_get_a_folder_per_channel_that_evaluate_owns(tmp_path, capsys):
    data = blob_dataset(tmp_path / "prepared", patients=4, slices=6)
    samples = tmp_path / "joint.npy"
    np.save(samples, load_prepared(data).image_set("joint").float_images()[:12])
    beside = tmp_path / "mine"
    (beside / "flair").mkdir(parents=True)
    before = snapshot(tmp_path)
    args = ["evaluate", "--real", str(data), "--sequence", "joint", "--fake", str(samples)]
    assert main([*args, "--out", str(beside / "m.json"), *DIAGNOSTICS]) == 2
    assert "flair: exists and was not written by" in one_line(capsys.readouterr().err)
    assert snapshot(tmp_path) == before

    out = tmp_path / "eval" / "m.json"
    assert main([*args, "--out", str(out), *DIAGNOSTICS]) == 0
    assert list(json.loads(out.read_text())["per_channel"]) == ["t1", "t1c", "t2", "flair"]
    for name in ("t1", "t1c", "t2", "flair"):
        assert json.loads((out.parent / name / MARKER).read_text())["command"] == "evaluate"
        assert (out.parent / name / "spectrum.png").is_file()
