"""Image + tumour-mask pairs (``train --with-mask``) for every family that generates masks,
and what training reads: each image with its own slice's mask, segmented slices only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from augment_eval.seg_toy import seg_prepared
from brainsynth.cli import main
from brainsynth.data.dataset import load_prepared
from brainsynth.data.masks import one_hot
from brainsynth.training import DataConfig
from brainsynth.training.data import load_training_set

TINY = {
    "dcgan": ["--arch-option", "width=4"],
    "stylegan2": ["--arch-option", "channel_base=64", "--arch-option", "channel_max=16",
                  "--arch-option", "w_dim=16"],
    "ddpm": ["--arch-option", "channel_mult=[1, 2]", "--arch-option", "attention_resolutions=[]",
             "--arch-option", "timesteps=50", "--arch-option", "sample_steps=2"],
    "flow": ["--arch-option", "channel_mult=[1, 2]", "--arch-option", "attention_resolutions=[]",
             "--arch-option", "sample_steps=2"],
}  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory, one_thread_module) -> Path:
    """4 segmented patients and one without a segmentation (P04), 16x16, 6 slices each."""
    return seg_prepared(tmp_path_factory.mktemp("pairs") / "data", patients=5, size=16,
                        unsegmented=(4,))  # fmt: skip


def train(data: Path, out: Path, arch: str, *extra: str) -> None:
    args = ["train", "--data", str(data), "--sequence", "flair", "--arch", arch, "--out",
            str(out), "--iters", "3", "--batch", "4", "--no-progress",
            *TINY.get(arch, [])]  # fmt: skip
    assert main([*args, *extra]) == 0


@pytest.mark.numerics
@pytest.mark.parametrize("arch", ["dcgan", "stylegan2", "ddpm", "flow"])
def test_every_family_trains_on_pairs_and_samples_aligned_masks(data, tmp_path, arch, capsys):
    train(data, tmp_path / "run", arch, "--with-mask")
    out = tmp_path / "samples"
    assert main(["sample", str(tmp_path / "run"), "--n", "5", "--out", str(out)]) == 0
    images, masks = np.load(out / "samples.npy"), np.load(out / "masks.npy")
    assert images.shape == (5, 1, 16, 16)  # the image channels only
    assert masks.shape == (5, 16, 16) and masks.dtype == np.uint8 and masks.max() <= 3
    assert sorted(p.name for p in out.glob("*-pair.png")) == [f"{i:06d}-pair.png" for i in range(5)]
    record = json.loads((out / "sampling.json").read_text())
    assert record["masks"] == "generated" and record["mask_encoding"] == "one-hot"
    # the same pairs again from the Python API (the one generation path)
    import brainsynth

    again, again_masks = brainsynth.load_generator(tmp_path / "run").generate_pairs(5, seed=0)
    np.testing.assert_array_equal(again, images)
    np.testing.assert_array_equal(again_masks, masks)


def test_a_pair_model_of_images_alone_is_sampled_without_masks(data, tmp_path):
    """A run without --with-mask writes no masks.npy, and a folder sample wrote for a pair
    model loses its masks and pairs when it is reused for images alone."""
    train(data, tmp_path / "pairs", "dcgan", "--with-mask")
    train(data, tmp_path / "plain", "dcgan")
    out = tmp_path / "samples"
    assert main(["sample", str(tmp_path / "pairs"), "--n", "3", "--out", str(out)]) == 0
    assert (out / "masks.npy").is_file()
    assert main(["sample", str(tmp_path / "plain"), "--n", "3", "--out", str(out)]) == 0
    assert not (out / "masks.npy").exists() and not list(out.glob("*-pair.png"))


def test_training_reads_each_image_with_its_slices_mask(data):
    prepared = load_prepared(data)
    segmented = prepared.segmented
    for sequence, per_slice in (("flair", 1), ("concat", 4)):
        config = DataConfig(str(data), sequence, with_mask=True)
        images, labels, masks = load_training_set(config)
        assert labels is None and masks is None
        assert images.shape == (per_slice * segmented.sum(), 1 + 3, 16, 16)
        expected = np.tile(np.asarray(prepared.masks)[segmented], (per_slice, 1, 1))
        np.testing.assert_array_equal(images[:, 1:].numpy(), one_hot(expected, np.uint8) * 255)
    images, _, masks = load_training_set(DataConfig(str(data), "joint", condition="mask"))
    assert images.shape == (segmented.sum(), 4, 16, 16)
    assert masks.shape == (segmented.sum(), 3, 16, 16) and masks.dtype == torch.uint8
    _, _, scalar = load_training_set(
        DataConfig(str(data), "t1", condition="mask", mask_encoding="scalar")
    )
    np.testing.assert_array_equal(scalar[:, 0].numpy(), np.asarray(prepared.masks)[segmented] * 85)


def test_joint_pairs_and_the_scalar_encoding(data, tmp_path):
    run = tmp_path / "joint"
    args = ["train", "--data", str(data), "--sequence", "joint", "--with-mask", "--mask-encoding",
            "scalar", "--out", str(run), "--iters", "2", "--batch", "4", "--width", "4",
            "--no-progress"]  # fmt: skip
    assert main(args) == 0
    out = tmp_path / "samples"
    assert main(["sample", str(run), "--n", "3", "--out", str(out)]) == 0
    assert np.load(out / "samples.npy").shape == (3, 4, 16, 16)
    assert np.load(out / "masks.npy").shape == (3, 16, 16)
    assert json.loads((out / "sampling.json").read_text())["mask_encoding"] == "scalar"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--with-mask", "--condition", "mask"], "--with-mask generates masks, --condition mask"),
        (["--condition", "mask"], "--arch dcgan cannot draw images for a tumour mask"),
        (["--arch", "spade"], "draws images for given tumour masks: train it with --condition"),
    ],
)
def test_impossible_requests_are_refused_in_one_line(data, tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    code = main(["train", "--data", str(data), "--sequence", "flair", "--out", str(out),
                 "--iters", "1", "--no-progress", *extra])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (out / "checkpoints").exists()


def test_masks_need_a_folder_prepared_with_them(tmp_path, capsys):
    old = seg_prepared(tmp_path / "old", patients=3, size=16, with_masks=False)
    code = main(["train", "--data", str(old), "--sequence", "flair", "--with-mask", "--out",
                 str(tmp_path / "run"), "--iters", "1", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "run 'brainsynth prepare' again" in err, err


def test_a_visual_turing_test_of_a_pair_model_shows_its_images(data, tmp_path, capsys):
    """``vtt create`` draws a pair model's images, not its mask channels, from the run as from
    its samples folder."""
    import sqlite3

    train(data, tmp_path / "run", "dcgan", "--with-mask")
    db = tmp_path / "vtt.sqlite"
    for name, fake in (("from the run", tmp_path / "run"), ("from samples", None)):
        if fake is None:
            fake = tmp_path / "samples"
            assert main(["sample", str(tmp_path / "run"), "--n", "4", "--out", str(fake)]) == 0
        code = main(["vtt", "create", "--db", str(db), "--name", name, "--real", str(data),
                     "--sequence", "flair", "--fake", str(fake), "--n-real", "3",
                     "--n-fake", "3"])  # fmt: skip
        assert code == 0, capsys.readouterr().err
    with sqlite3.connect(db) as connection:
        blobs = connection.execute("select png from items where truth = 'synthetic'").fetchall()
    from io import BytesIO

    from PIL import Image

    assert len(blobs) == 6
    assert all(Image.open(BytesIO(b[0])).size == (16, 16) for b in blobs)
    assert all(Image.open(BytesIO(b[0])).mode == "L" for b in blobs)


@pytest.mark.numerics
def test_an_export_of_a_pair_model_draws_the_runs_pairs(data, tmp_path):
    import brainsynth

    train(data, tmp_path / "run", "stylegan2", "--with-mask")
    export = tmp_path / "export"
    assert main(["export", str(tmp_path / "run"), str(export)]) == 0
    config = json.loads((export / "config.json").read_text())
    assert config["shape"]["mask_channels"] == 3 and config["shape"]["channels"] == 1
    assert "generated with each image" in (export / "README.md").read_text()
    exported = brainsynth.load_generator(export)
    assert exported.draws_masks and not exported.needs_masks
    run_images, run_masks = brainsynth.load_generator(tmp_path / "run").generate_pairs(6, seed=2)
    images, masks = exported.generate_pairs(6, seed=2)
    np.testing.assert_array_equal(images, run_images)
    np.testing.assert_array_equal(masks, run_masks)
    out = tmp_path / "samples"
    assert main(["sample", str(export), "--n", "6", "--seed", "2", "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out / "masks.npy"), masks)
