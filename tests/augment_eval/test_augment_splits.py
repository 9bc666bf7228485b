"""Patient-level splits and tumour labels."""

from __future__ import annotations

import pytest

from brainsynth.augment_eval.splits import fraction_count, fraction_patients, split_patients
from brainsynth.data.labels import tumor_labels
from brainsynth.errors import BrainsynthError

PATIENTS = [f"P{i:02d}" for i in range(20) for _ in range(7)]  # 20 patients, 7 slices each


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_is_patient_disjoint_and_complete(seed):
    split = split_patients(PATIENTS, 0.15, 0.25, seed)
    parts = [set(split.train), set(split.val), set(split.test)]
    assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
    assert parts[0] | parts[1] | parts[2] == set(PATIENTS)
    assert (len(split.test), len(split.val), len(split.train)) == (5, 3, 12)
    assert split == split_patients(PATIENTS, 0.15, 0.25, seed)


def test_split_needs_three_patients_and_keeps_one_in_each_part():
    with pytest.raises(BrainsynthError, match="at least 3"):
        split_patients(["a", "a", "b"], 0.15, 0.25, 0)
    split = split_patients(["a", "b", "c"], 0.15, 0.25, 0)
    assert len(split.train) == len(split.val) == len(split.test) == 1


def test_fractions_are_nested_subsets_of_training_patients():
    train = tuple(f"T{i}" for i in range(10))
    chosen = fraction_patients(train, (0.1, 0.25, 1.0), seed=3)
    assert [len(chosen[f]) for f in (0.1, 0.25, 1.0)] == [1, 3, 10]
    assert set(chosen[0.1]) <= set(chosen[0.25]) <= set(chosen[1.0]) == set(train)
    other = fraction_patients(train, (0.25,), seed=4)
    assert fraction_count(0.3, 10) == 3 and fraction_count(0.01, 10) == 1
    assert chosen[0.25] != other[0.25] or chosen[0.1][0] in other[0.25]  # repeats differ


def test_tumor_labels_follow_the_threshold_and_refuse_missing_segmentations():
    rows = [{"patient": "a", "tumor_pixels": v} for v in ("0", "3", "40", "0")]
    assert tumor_labels(rows).tolist() == [0, 1, 1, 0]
    assert tumor_labels(rows, threshold=10).tolist() == [0, 0, 1, 0]
    with pytest.raises(BrainsynthError, match="row 2 .*no tumor_pixels"):
        tumor_labels([rows[0], {"patient": "b", "tumor_pixels": ""}])
