"""``augment-eval --task segmentation`` with its real generator sources: a pair generator and
a mask-conditioned generator trained per training set on exactly its patients, and the
default edit of the masks the from-masks arm draws images for."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from seg_toy import seg_prepared, toy_mask

from brainsynth.augment_eval.config import SEGMENTATION_ARMS
from brainsynth.augment_sources import random_tumour_edits
from brainsynth.cli import main

TINY = ["--classifier-epochs", "1", "--classifier-width", "8", "--bootstrap", "100"]


@pytest.fixture(scope="module")
def seg_data(tmp_path_factory, one_thread_module):
    return seg_prepared(tmp_path_factory.mktemp("arms") / "data", patients=8)


def test_every_arm_runs_with_generators_trained_on_the_sets_patients(seg_data, tmp_path):
    out = tmp_path / "seg"
    code = main(["augment-eval", "--task", "segmentation", "--data", str(seg_data), "--out",
                 str(out), "--train-patients", "2", "--repeats", "1", "--gen-iters", "2",
                 *TINY, "--no-progress"])  # fmt: skip
    assert code == 0
    summary = json.loads((out / "augment.json").read_text())
    assert list(summary["arms"]) == list(SEGMENTATION_ARMS)  # every arm by default
    for arm in ("real+synthetic", "real+synthetic-from-masks", "synthetic"):
        entry = summary["arms"][arm]["2p"]
        assert entry["synthetic_slices"] == 12 and "vs_real" in entry
        assert 0 <= entry["dice"] <= 1
    patients = json.loads((out / "splits.json").read_text())["sizes"][0]["2p"]
    for name, arch, data in (("p2-r0-pairs", "dcgan", {"with_mask": True, "condition": "none"}),
                             ("p2-r0-from-masks", "spade", {"condition": "mask"})):  # fmt: skip
        config = yaml.safe_load((out / "generators" / name / "config.yaml").read_text())
        assert config["model"]["arch"] == arch
        assert sorted(config["data"]["patients"]) == sorted(patients)  # the guard's premise
        assert {k: config["data"][k] for k in data} == data
        assert (out / "generators" / name / "done.json").is_file()


def test_a_family_that_cannot_serve_an_arm_is_refused_first(seg_data, tmp_path, capsys):
    out = tmp_path / "seg"
    code = main(["augment-eval", "--task", "segmentation", "--data", str(seg_data), "--out",
                 str(out), "--train-patients", "2", "--arch", "stylegan2",
                 "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--arch stylegan2 cannot draw images for a tumour mask" in err
    assert not (out / "generators").exists()


def test_the_default_edit_moves_tumours_inside_their_brains_reproducibly():
    size = 32
    yy, xx = np.mgrid[0:size, 0:size]
    brain = np.hypot(yy - 15.5, xx - 15.5) < 13
    masks = np.stack([toy_mask(size, (14, 12 + k), 4 + k) for k in range(6)] +
                     [np.zeros((size, size), np.uint8)])  # fmt: skip
    brains = np.repeat(brain[None], len(masks), axis=0)
    first = random_tumour_edits(masks, np.random.default_rng(5), brains)
    again = random_tumour_edits(masks, np.random.default_rng(5), brains)
    np.testing.assert_array_equal(first, again)
    assert not first[-1].any()  # tumour-free stays tumour-free
    assert not (first[:-1] > 0)[:, ~brain].any()  # inside the brain
    assert all(first[k].any() for k in range(6))
    assert sum(not np.array_equal(a, b) for a, b in zip(first, masks, strict=True)) >= 5
    assert set(np.unique(first)) <= {0, 1, 2, 3}
