"""``prepare``: tiny cohorts written directly, so every behaviour is checked in milliseconds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from data_volumes import (
    SHAPE,
    canonical_seg,
    canonical_volume,
    write_mha,
    write_nifti,
    write_nifti_case,
)
from PIL import Image

from brainsynth.config import load_config
from brainsynth.data import prepare as prepare_module
from brainsynth.data.dataset import load_prepared
from brainsynth.data.prepare import PrepareConfig, prepare
from brainsynth.errors import BrainsynthError

TINY = dict(slices=(4, 12), size=16, workers=1)


def cohort(root, n=3, orientation="LPS"):
    for i in range(n):
        write_nifti_case(root, f"BraTS2021_{i:05d}", seed=i, orientation=orientation, seg=i != 2)
    return root


def test_output_is_a_loadable_prepared_dataset(tmp_path):
    out = prepare(cohort(tmp_path / "src"), tmp_path / "out", PrepareConfig(**TINY), progress=False)
    data = load_prepared(out)
    assert data.images.shape == (3 * 8, 4, 16, 16) and data.images.dtype == np.uint8
    assert [r["slice"] for r in data.slices[:8]] == [str(s) for s in range(4, 12)]
    assert {r["plane"] for r in data.slices} == {"sagittal"}
    tumor = [r["tumor_pixels"] for r in data.slices]
    expected = [str(12 if 6 <= s < 9 else 0) for s in range(4, 12)]  # canonical_seg: 4 x 3
    assert tumor[:8] == expected and tumor[8:16] == expected
    assert tumor[16:] == [""] * 8  # the third case has no segmentation
    assert data.images[:, :, 0, 0].max() == 0  # background stays exactly 0
    assert data.images.max() > 150  # brain signal survives (resizing averages the extremes)
    meta = data.meta
    assert meta["counts"] == {"cases_found": 3, "cases": 3, "cases_skipped": 0, "images": 24}
    assert meta["layouts"]["BraTS2021_00000"] == "brats2021"
    assert meta["normalization"]["percentiles"] == [0.5, 99.5]
    assert meta["slice_range"] == [4, 12] and meta["skipped"] == []
    assert load_config(PrepareConfig, out / "config.yaml") == PrepareConfig(**TINY)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_same_case_stored_lps_ras_or_as_metaimage_prepares_identically(tmp_path):
    vols = [canonical_volume(s) for s in range(4)]
    outputs = []
    for orientation in ("LPS", "RAS", "SPL"):
        src = tmp_path / orientation
        for seq, vol in zip(("t1", "t1ce", "t2", "flair"), vols, strict=True):
            write_nifti(src / "c" / f"c_{seq}.nii.gz", vol, orientation)
        write_nifti(src / "c" / "c_seg.nii.gz", canonical_seg(), orientation)
        outputs.append(
            prepare(src, tmp_path / f"out{orientation}", PrepareConfig(**TINY), progress=False)
        )
    src = tmp_path / "mha" / "HGG" / "c"
    for k, (token, vol) in enumerate(zip(("T1", "T1c", "T2", "Flair"), vols, strict=True)):
        stem = f"VSD.Brain.XX.O.MR_{token}.{100 + k}"
        write_mha(src / stem / f"{stem}.mha", vol, flip_x=k == 1)
    write_mha(
        src / "VSD.Brain_3more.XX.O.OT.104" / "VSD.Brain_3more.XX.O.OT.104.mha", canonical_seg()
    )
    outputs.append(
        prepare(tmp_path / "mha", tmp_path / "outmha", PrepareConfig(**TINY), progress=False)
    )
    reference = load_prepared(outputs[0])
    for out in outputs[1:]:
        other = load_prepared(out)
        np.testing.assert_array_equal(other.images, reference.images)
        assert [r["tumor_pixels"] for r in other.slices] == [
            r["tumor_pixels"] for r in reference.slices
        ]


def test_marker_shows_anterior_left_superior_up_in_left_slices(tmp_path):
    """A bright block at the front-top of the patient's left side, stored LPS."""
    vol = np.zeros(SHAPE, dtype=np.float32)
    vol[2:-2, 2:-2, 1:-1] = 100.0
    vol[4:6, 10:14, 7:10] = 1000.0  # x: left; y: anterior (high); z: superior (high)
    for seq in ("t1", "t1ce", "t2", "flair"):
        write_nifti(tmp_path / "src" / "m" / f"m_{seq}.nii.gz", vol, "LPS")
    config = PrepareConfig(slices=(0, SHAPE[0]), size=SHAPE[1], workers=1, resize="pad")
    images = load_prepared(
        prepare(tmp_path / "src", tmp_path / "out", config, progress=False)
    ).images
    bright = images[:, 0] > 128
    assert [int(s) for s in np.flatnonzero(bright.any(axis=(1, 2)))] == [4, 5]
    rows, cols = np.nonzero(bright[4])
    assert rows.max() < SHAPE[1] / 2 and cols.max() < SHAPE[1] / 2  # upper-left quadrant


def test_tumor_and_grade_filters(tmp_path):
    src = tmp_path / "src"
    write_nifti_case(src / "HGG", "Brats18_A_1_1", seed=0)
    write_nifti_case(src / "LGG", "Brats18_B_1_1", seed=1)
    with_tumor = load_prepared(
        prepare(src, tmp_path / "with", PrepareConfig(tumor="with", **TINY), progress=False)
    )
    assert {int(r["slice"]) for r in with_tumor.slices} == {6, 7, 8}
    assert len(with_tumor.slices) == 6
    without = load_prepared(
        prepare(src, tmp_path / "without", PrepareConfig(tumor="without", **TINY), progress=False)
    )
    assert all(r["tumor_pixels"] == "0" for r in without.slices) and len(without.slices) == 10
    lgg = load_prepared(
        prepare(src, tmp_path / "lgg", PrepareConfig(grade="LGG", **TINY), progress=False)
    )
    assert {r["patient"] for r in lgg.slices} == {"Brats18_B_1_1"}
    assert {r["grade"] for r in lgg.slices} == {"LGG"}


def test_tumor_filter_without_segmentation_is_an_error(tmp_path):
    write_nifti_case(tmp_path / "src", "BraTS2021_00009", seg=False)
    with pytest.raises(BrainsynthError, match="no segmentation, needed by --tumor"):
        prepare(
            tmp_path / "src", tmp_path / "out", PrepareConfig(tumor="with", **TINY), progress=False
        )
    with pytest.raises(BrainsynthError, match="no HGG case"):
        prepare(
            tmp_path / "src", tmp_path / "out", PrepareConfig(grade="HGG", **TINY), progress=False
        )
    assert not (tmp_path / "out").exists()


def break_missing(folder):
    (folder / f"{folder.name}_flair.nii.gz").unlink()
    return "is missing FLAIR"


def break_truncated(folder):
    path = folder / f"{folder.name}_t2.nii.gz"
    path.write_bytes(path.read_bytes()[:300])
    return "_t2.nii.gz: unreadable or truncated"


def break_shape(folder):
    write_nifti(folder / f"{folder.name}_t1ce.nii.gz", canonical_volume(0, shape=(20, 16, 10)))
    return "_t1ce.nii.gz: shape (20, 16, 10) differs from"


def break_nan(folder):
    vol = canonical_volume(0)
    vol[3, 3, 3] = np.nan
    write_nifti(folder / f"{folder.name}_t1.nii.gz", vol)
    return "_t1.nii.gz: contains NaN"


@pytest.mark.parametrize("damage", [break_missing, break_truncated, break_shape, break_nan])
def test_bad_case_is_skipped_with_warning_or_fatal_when_strict(tmp_path, capsys, damage):
    src = cohort(tmp_path / "src", n=3)
    message = damage(src / "BraTS2021_00001")
    out = prepare(src, tmp_path / "out", PrepareConfig(**TINY), progress=False)
    meta = load_prepared(out).meta
    assert meta["counts"]["cases"] == 2 and meta["counts"]["images"] == 16
    (skipped,) = meta["skipped"]
    assert skipped["case"] == "BraTS2021_00001" and message in skipped["reason"]
    assert "warning: skipping BraTS2021_00001" in capsys.readouterr().err
    with pytest.raises(BrainsynthError, match=message.replace("(", r"\(").replace(")", r"\)")):
        prepare(src, tmp_path / "strict", PrepareConfig(strict=True, **TINY), progress=False)
    assert not (tmp_path / "strict").exists()


def test_slices_beyond_the_volume_name_the_file(tmp_path):
    write_nifti_case(tmp_path / "src", "BraTS2021_00000")
    config = PrepareConfig(slices=(80, 150), size=16, workers=1)
    with pytest.raises(BrainsynthError, match=r"_t1.nii.gz: --slices 80:150 exceeds its 20 sag"):
        prepare(tmp_path / "src", tmp_path / "out", config, progress=False)


def test_parallel_workers_give_the_same_output(tmp_path):
    src = cohort(tmp_path / "src", n=3)
    one = load_prepared(prepare(src, tmp_path / "one", PrepareConfig(**TINY), progress=False))
    config = PrepareConfig(slices=(4, 12), size=16, workers=2)
    two = load_prepared(prepare(src, tmp_path / "two", config, progress=False))
    np.testing.assert_array_equal(one.images, two.images)
    assert one.slices == two.slices


def test_interrupted_run_leaves_no_complete_looking_out(tmp_path, monkeypatch):
    src = cohort(tmp_path / "src", n=2)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(prepare_module, "assemble", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare(src, tmp_path / "out", PrepareConfig(**TINY), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_out_is_replaced_only_if_it_is_a_prepared_dataset(tmp_path):
    src = cohort(tmp_path / "src", n=1)
    out = prepare(src, tmp_path / "out", PrepareConfig(**TINY), progress=False)
    prepare(src, out, PrepareConfig(slices=(4, 6), size=16, workers=1), progress=False)
    assert len(load_prepared(out).slices) == 2
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(
        BrainsynthError,
        match="mine: exists and holds files .brainsynth prepare. did not write .thesis.tex.; "
        "choose another OUT or pass --overwrite",
    ):
        prepare(src, tmp_path / "mine", PrepareConfig(**TINY), progress=False)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_preview_montage_has_a_row_per_sequence(tmp_path):
    src = cohort(tmp_path / "src", n=3)
    preview = tmp_path / "preview.png"
    prepare(src, tmp_path / "out", PrepareConfig(**TINY), preview=preview, progress=False)
    with Image.open(preview) as img:
        assert img.size == (3 * 18 + 2, 4 * 18 + 2)  # 3 patients x 4 sequences, 16 px + 2 pad
    assert json.loads((tmp_path / "out" / "dataset.json").read_text())["phantom"] is False
