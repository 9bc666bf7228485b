"""Per-label and joint (four-channel) evaluation compare each group with its own real images."""

from __future__ import annotations

import dataclasses
import re

import pytest

from blobs import labelled_dataset, tiny_eval_config
from brainsynth.data.dataset import load_prepared
from brainsynth.errors import BrainsynthError
from brainsynth.metrics.grouped import evaluate_joint, evaluate_per_label


def test_each_label_is_compared_with_real_images_of_that_label(tmp_path):
    prepared = load_prepared(labelled_dataset(tmp_path / "data"))
    config = dataclasses.replace(tiny_eval_config(), metrics=["c2st", "diversity"])
    flair = prepared.image_set("flair")
    fake = flair.images[:40]
    labels = ["with-tumor" if i % 2 else "without-tumor" for i in range(40)]
    out = evaluate_per_label(prepared, "flair", fake, labels, "tumor", 0, config, progress=False)
    assert out["with-tumor"]["n_real_available"] == 32
    assert out["without-tumor"]["n_real_available"] == 32
    assert out["with-tumor"]["n_fake_available"] == labels.count("with-tumor")
    fake = prepared.image_set("t2").images[:15]
    labels = ["t2"] * 12 + ["t1"] * 3  # fewer than 10 t1 samples: noted, not evaluated
    t2 = evaluate_per_label(prepared, "concat", fake, labels, "sequence", 0, config,
                            progress=False)  # fmt: skip
    assert t2["t2"]["sequence"] == "t2" and t2["t2"]["n_real_available"] == 64
    assert "not evaluated: 3 samples" in t2["t1"]["note"]


@pytest.mark.parametrize(
    ("name", "message"),
    [("rare", "'rare' of the synthetic images is not a class of condition tumor"),
     ("../x", "class name '../x' cannot name an output (a path"),
     ("With-Tumor", "'with-tumor' and 'With-Tumor' would name the same output on a case-insen")],
)  # fmt: skip
def test_a_class_that_is_no_safe_name_or_no_class_of_the_condition_is_refused_first(
    tmp_path, name, message
):
    prepared = load_prepared(labelled_dataset(tmp_path / "data", patients=4, slices=4))
    fake = prepared.image_set("flair").images[:12]
    labels = ["with-tumor"] * 10 + [name] * 2  # refused even with too few samples to evaluate
    out = tmp_path / "eval"
    config = dataclasses.replace(tiny_eval_config(), metrics=["diagnostics"])
    with pytest.raises(BrainsynthError, match=re.escape(message)):
        evaluate_per_label(prepared, "flair", fake, labels, "tumor", 0, config, out, False)
    assert not out.exists()  # refused before the first class was evaluated


def test_joint_samples_get_a_stack_c2st_and_every_channel(tmp_path):
    prepared = load_prepared(labelled_dataset(tmp_path / "data"))
    config = dataclasses.replace(tiny_eval_config(), metrics=["c2st", "diversity"])
    fake = prepared.image_set("joint").images[:24]
    out = evaluate_joint(prepared, fake, config, tmp_path / "eval", progress=False)
    assert out["sequence"] == "joint" and 0 <= out["c2st_accuracy"] <= 1
    assert out["ms_ssim_fake"] is None  # the stacks get the C2ST only
    assert list(out["per_channel"]) == ["t1", "t1c", "t2", "flair"]
    assert all(m["ms_ssim_fake"] is not None for m in out["per_channel"].values())
