"""Images drawn for given tumour masks (``train --condition mask``, ``sample --from-masks``):
the diffusion and flow families and the SPADE GAN, every kind of mask source, edits and the
teaching grid, exports, and the checks that come before any image is drawn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from augment_eval.seg_toy import seg_prepared, toy_mask
from brainsynth.cli import main
from brainsynth.data.dataset import load_prepared
from brainsynth.data.mask_edit import edit_mask
from brainsynth.sampling.from_masks import GAP

TINY = {
    "ddpm": ["--arch-option", "channel_mult=[1, 2]", "--arch-option", "attention_resolutions=[]",
             "--arch-option", "timesteps=50", "--arch-option", "sample_steps=2"],
    "flow": ["--arch-option", "channel_mult=[1, 2]", "--arch-option", "attention_resolutions=[]",
             "--arch-option", "sample_steps=2"],
    "spade": ["--arch-option", "width=4", "--arch-option", "spade_hidden=4"],
}  # fmt: skip
SIZE = 16


@pytest.fixture(scope="module")
def data(tmp_path_factory, one_thread_module) -> Path:
    return seg_prepared(tmp_path_factory.mktemp("cond") / "data", patients=4, size=SIZE)


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory) -> dict[str, Path]:
    """One mask-conditioned run per family, trained a few iterations."""
    root = tmp_path_factory.mktemp("cond-runs")
    found = {}
    for arch, options in TINY.items():
        out = root / arch
        args = ["train", "--data", str(data), "--sequence", "flair", "--condition", "mask",
                "--arch", arch, "--out", str(out), "--iters", "3", "--batch", "4",
                "--no-progress", *options]  # fmt: skip
        assert main(args) == 0
        found[arch] = out
    return found


def given_masks(n: int = 5) -> np.ndarray:
    masks = np.stack([toy_mask(SIZE, (8 + k % 3, 7 + k % 2), 2.5 + k) for k in range(n)])
    masks[0] = 0  # a tumour-free slice too
    return masks


@pytest.mark.parametrize("arch", list(TINY))
def test_images_are_drawn_for_exactly_the_masks_given(runs, tmp_path, arch):
    masks = given_masks()
    source = tmp_path / "masks.npy"
    np.save(source, masks)
    out = tmp_path / "samples"
    assert main(["sample", str(runs[arch]), "--from-masks", str(source), "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out / "masks.npy"), masks)
    assert np.load(out / "samples.npy").shape == (5, 1, SIZE, SIZE)
    record = json.loads((out / "sampling.json").read_text())
    assert record["masks"] == "given" and record["n"] == 5 and "masks.npy" in record["from_masks"]


def test_masks_from_a_folder_of_label_pngs_and_from_a_prepared_folder(runs, data, tmp_path):
    masks = given_masks(3)
    folder = tmp_path / "labels"
    folder.mkdir()
    for i, mask in enumerate(masks):
        Image.fromarray(mask, mode="L").save(folder / f"case{i}.png")
    out = tmp_path / "from-pngs"
    assert main(["sample", str(runs["ddpm"]), "--from-masks", str(folder), "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out / "masks.npy"), masks)
    prepared = load_prepared(data)
    numbers = [int(r["slice"]) for r in prepared.slices]
    rows = np.flatnonzero(
        np.isin(prepared.patients, ["P01", "P02"]) & np.isin(numbers, [81, 82, 83])
    )
    out = tmp_path / "from-prepared"
    args = ["sample", str(runs["spade"]), "--from-masks", str(data), "--patients", "P01,P02",
            "--slices", "81:84", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    np.testing.assert_array_equal(np.load(out / "masks.npy"), prepared.masks[rows])
    assert len(np.load(out / "samples.npy")) == len(rows) == 6


def test_edits_with_the_real_brain_and_the_teaching_grid(runs, data, tmp_path):
    out, grid = tmp_path / "bigger", tmp_path / "teaching.png"
    args = ["sample", str(runs["flow"]), "--from-masks", str(data), "--patients", "P00",
            "--slices", "82:84", "--edit", "scale=1.4;flip=lr", "--out", str(out), "--grid",
            str(grid)]  # fmt: skip
    assert main(args) == 0
    prepared = load_prepared(data)
    rows = [i for i, r in enumerate(prepared.slices)
            if r["patient"] == "P00" and int(r["slice"]) in (82, 83)]  # fmt: skip
    expected = [edit_mask(prepared.masks[r], "scale=1.4;flip=lr", prepared.images[r].max(0) > 0)
                for r in rows]  # fmt: skip
    np.testing.assert_array_equal(np.load(out / "masks.npy"), np.stack(expected))
    assert (np.load(out / "masks.npy") > 0).sum() > (prepared.masks[rows] > 0).sum()
    picture = np.asarray(Image.open(grid))
    tile = SIZE + GAP
    assert picture.shape == (2 * tile + GAP, 4 * tile + GAP, 3)  # 2 cases x 4 columns
    record = json.loads((out / "sampling.json").read_text())
    assert record["edit"] == "scale=1.4;flip=lr" and record["edit_brain"] == "real slices"


def test_edits_of_masks_without_images_use_the_drawn_brain(runs, tmp_path):
    source = tmp_path / "masks.npy"
    np.save(source, given_masks(3)[1:])
    out = tmp_path / "moved"
    args = ["sample", str(runs["spade"]), "--from-masks", str(source), "--edit", "remove",
            "--out", str(out), "--grid", str(tmp_path / "grid.png")]  # fmt: skip
    assert main(args) == 0
    assert not np.load(out / "masks.npy").any()
    assert "unedited masks" in json.loads((out / "sampling.json").read_text())["edit_brain"]


@pytest.mark.numerics
def test_an_export_draws_the_runs_images(runs, tmp_path):
    import brainsynth

    export = tmp_path / "export"
    assert main(["export", str(runs["spade"]), str(export)]) == 0
    card = (export / "README.md").read_text()
    assert "`sample --from-masks`" in card and "pipeline_tag: image-to-image" in card
    masks = given_masks()
    from_run = brainsynth.load_generator(runs["spade"]).generate_from_masks(masks, seed=3)
    from_export = brainsynth.load_generator(export).generate_from_masks(masks, seed=3)
    np.testing.assert_array_equal(from_run, from_export)


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (lambda p: np.save(p, np.zeros((2, 8, 8), np.uint8)), [], "masks of 8x8 px; this "),
        (lambda p: np.save(p, np.full((2, 16, 16), 4, np.uint8)), [], "label value(s) 4 are not"),
        (lambda p: np.save(p, np.zeros((2, 16, 16), np.uint8)), ["--n", "3"], "gives 2 masks"),
        (lambda p: np.save(p, np.zeros((2, 16, 16), np.uint8)), ["--edit", "scale=9"], "--edit"),
        (
            lambda p: np.save(p, np.zeros((2, 16, 16), np.uint8)),
            ["--slices", "3:4"],
            "--patients and --slices select masks of a prepared folder",
        ),
    ],
)
def test_bad_masks_are_refused_before_any_image(runs, tmp_path, capsys, make, extra, message):
    source = tmp_path / "masks.npy"
    make(source)
    out = tmp_path / "out"
    code = main(["sample", str(runs["ddpm"]), "--from-masks", str(source), "--out", str(out),
                 *extra])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_the_wrong_model_for_the_request_is_one_line(runs, data, tmp_path, capsys):
    assert main(["sample", str(runs["flow"]), "--n", "2", "--out", str(tmp_path / "a")]) == 2
    assert "give them with --from-masks" in capsys.readouterr().err
    plain = tmp_path / "plain"
    assert main(["train", "--data", str(data), "--sequence", "flair", "--out", str(plain),
                 "--iters", "1", "--width", "4", "--no-progress"]) == 0  # fmt: skip
    code = main(["sample", str(plain), "--from-masks", str(data), "--out", str(tmp_path / "b")])
    assert code == 2 and "not conditioned on tumour masks" in capsys.readouterr().err
    assert main(["sample", str(plain), "--n", "2", "--edit", "remove", "--out",
                 str(tmp_path / "c")]) == 2  # fmt: skip
    assert "--edit goes with --from-masks" in capsys.readouterr().err
