"""Per-label and joint (four-channel) evaluation compare each group with its own real images."""

from __future__ import annotations

import dataclasses

import numpy as np

from blobs import tiny_eval_config
from brainsynth.data.dataset import load_prepared, write_prepared
from brainsynth.metrics.grouped import evaluate_joint, evaluate_per_label


def labelled_dataset(root, patients: int = 8, slices: int = 8, size: int = 16):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 0.3, size=(patients * slices, 4, size, size)).astype(np.float32)
    rows = []
    for p in range(patients):
        for s in range(slices):
            tumour = s % 2
            images[p * slices + s, :, 5:11, 5:11] += 0.6 * tumour
            rows.append({"patient": f"P{p}", "grade": "HGG", "plane": "sagittal", "slice": s,
                         "tumor_pixels": 36 * tumour})  # fmt: skip
    return load_prepared(write_prepared(root, images, rows, {"source": "tests"}))


def test_each_label_is_compared_with_real_images_of_that_label(tmp_path):
    prepared = labelled_dataset(tmp_path / "data")
    config = dataclasses.replace(tiny_eval_config(), metrics=["c2st", "diversity"])
    flair = prepared.image_set("flair")
    fake = flair.images[:40]
    labels = ["with-tumor" if i % 2 else "without-tumor" for i in range(40)]
    labels[1] = "rare"  # fewer than 10 samples: noted, not evaluated
    out = evaluate_per_label(prepared, "flair", fake, labels, "tumor", 0, config, progress=False)
    assert out["with-tumor"]["n_real_available"] == 32
    assert out["without-tumor"]["n_real_available"] == 32
    assert out["with-tumor"]["n_fake_available"] == labels.count("with-tumor")
    assert "not evaluated" in out["rare"]["note"]
    t2 = evaluate_per_label(prepared, "concat", prepared.image_set("t2").images[:12],
                            ["t2"] * 12, "sequence", 0, config, progress=False)  # fmt: skip
    assert t2["t2"]["sequence"] == "t2" and t2["t2"]["n_real_available"] == 64


def test_joint_samples_get_a_stack_c2st_and_every_channel(tmp_path):
    prepared = labelled_dataset(tmp_path / "data")
    config = dataclasses.replace(tiny_eval_config(), metrics=["c2st", "diversity"])
    fake = prepared.image_set("joint").images[:24]
    out = evaluate_joint(prepared, fake, config, tmp_path / "eval", progress=False)
    assert out["sequence"] == "joint" and 0 <= out["c2st_accuracy"] <= 1
    assert out["ms_ssim_fake"] is None  # the stacks get the C2ST only
    assert list(out["per_channel"]) == ["t1", "t1c", "t2", "flair"]
    assert all(m["ms_ssim_fake"] is not None for m in out["per_channel"].values())
