"""Mask editing for teaching cases: the geometry of every operation, the nesting rules of
grow and shrink, insert inside the brain, chaining, and the spec parser's one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from brainsynth.data import mask_edit
from brainsynth.data.mask_edit import Edit, apply_edits, edit_mask, parse_edits
from brainsynth.errors import BrainsynthError

SIZE = 64


def disc(centre, radius, size=SIZE) -> np.ndarray:
    rows, cols = np.mgrid[:size, :size]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 < radius**2


BRAIN = disc((32, 32), 29)


def tumour(centre=(30, 28)) -> np.ndarray:
    """An oval of oedema (wider than high) around an enhancing rim around a core, plus an
    enhancing lobe at its right end, so direction is visible after rotate and flip."""
    rows, cols = np.mgrid[:SIZE, :SIZE]
    r, c = rows - centre[0], cols - centre[1]
    d = np.sqrt((r / 7.0) ** 2 + (c / 11.0) ** 2)
    mask = np.zeros((SIZE, SIZE), dtype=np.uint8)
    mask[d < 1] = 2
    mask[d < 0.6] = 3
    mask[d < 0.3] = 1
    mask[(np.abs(r) <= 2) & (c >= 7) & (c <= 10)] = 3
    return mask


def centroid(mask, labels=(1, 2, 3)) -> np.ndarray:
    rows, cols = np.nonzero(np.isin(mask, labels))
    return np.array([rows.mean(), cols.mean()])


def boundary(mask) -> int:
    """Tumour pixels with a non-tumour 4-neighbour: what nearest-neighbour resampling can get
    wrong, one pixel each, so area errors are bounded by it."""
    inside = np.pad(mask > 0, 1)
    core = inside[1:-1, 1:-1]
    neighbours = inside[:-2, 1:-1] & inside[2:, 1:-1] & inside[1:-1, :-2] & inside[1:-1, 2:]
    return int((core & ~neighbours).sum())


def area(mask, labels=(1, 2, 3)) -> int:
    return int(np.isin(mask, labels).sum())


@pytest.mark.parametrize("factor", [0.5, 1.5, 2.0])
def test_scale_multiplies_the_area_by_f_squared_about_the_centroid(factor):
    mask = tumour()
    out = edit_mask(mask, f"scale={factor}", BRAIN)
    expected = factor**2 * area(mask)
    assert abs(area(out) - expected) <= boundary(out) + boundary(mask)
    assert abs(area(out) - expected) < 0.15 * expected
    assert np.abs(centroid(out) - centroid(mask)).max() < 1.0
    assert set(np.unique(out)) == {0, 1, 2, 3}
    for label in (1, 2, 3):  # every sub-region scales, not only the outline
        ratio = area(out, (label,)) / area(mask, (label,))
        assert abs(ratio - factor**2) < 0.35 * factor**2


def test_move_shifts_the_centroid_by_exactly_dx_dy():
    mask = tumour()
    out = edit_mask(mask, "move=5,-3", BRAIN)
    np.testing.assert_allclose(centroid(out) - centroid(mask), [-3, 5])
    np.testing.assert_array_equal(out, np.roll(mask, (-3, 5), axis=(0, 1)))


def test_edits_clip_to_the_brain_and_refuse_to_leave_it():
    mask = tumour()
    out = edit_mask(mask, "move=24,0", BRAIN)  # the right part leaves the brain
    assert 0 < area(out) < area(mask) and not out[~BRAIN].any()
    out = edit_mask(mask, "scale=4", BRAIN)
    assert not out[~BRAIN].any() and area(out) > 4 * area(mask)
    with pytest.raises(BrainsynthError, match=r"^--edit 'move=0,-40': no part of the tumour"):
        edit_mask(mask, "move=0,-40", BRAIN)


def test_rotate_keeps_the_area_and_turns_counter_clockwise():
    mask = tumour()
    out = edit_mask(mask, "rotate=90", BRAIN)
    assert abs(area(out) - area(mask)) <= boundary(mask)
    before = centroid(mask, (3,)) - centroid(mask)
    after = centroid(out, (3,)) - centroid(out)
    assert before[1] > 1 and abs(before[0]) < 0.5  # the enhancing lobe: right of centre
    assert after[0] < -1 and abs(after[1]) < 0.5  # now above it (rows grow downwards)
    rows, cols = np.nonzero(out)
    assert np.ptp(rows) > np.ptp(cols)  # the wide oval stands upright
    np.testing.assert_array_equal(edit_mask(mask, "rotate=360", BRAIN), mask)


def test_flip_mirrors_about_the_centroid_and_undoes_itself():
    mask = tumour()
    out = edit_mask(mask, "flip=lr", BRAIN)
    twice = int(round(2 * centroid(mask)[1]))
    rows, cols = np.nonzero(mask)
    np.testing.assert_array_equal(out[rows, twice - cols], mask[rows, cols])
    assert area(out) == area(mask) and (centroid(out, (3,)) - centroid(out))[1] < -1
    np.testing.assert_array_equal(edit_mask(mask, "flip=lr;flip=lr", BRAIN), mask)
    up_down = edit_mask(mask, "flip=ud", BRAIN)
    np.testing.assert_array_equal(edit_mask(up_down, "flip=ud", BRAIN), mask)


def test_remove_leaves_no_tumour():
    assert not edit_mask(tumour(), "remove", BRAIN).any()


@pytest.mark.parametrize(("label", "takes"), [(3, {2}), (1, {2, 3}), (2, {0})])
def test_grow_takes_only_the_labels_further_out(label, takes):
    mask = tumour()
    out = edit_mask(mask, f"grow={label}:2", BRAIN)
    changed = out != mask
    assert changed.any() and (out[changed] == label).all()
    assert set(np.unique(mask[changed])) <= takes
    if label != 2:  # only oedema moves the tumour's outline
        np.testing.assert_array_equal(out > 0, mask > 0)
    else:
        assert not out[~BRAIN].any()
    near = edit_mask(mask, f"grow={label}:1", BRAIN)
    assert area(near, (label,)) < area(out, (label,))


@pytest.mark.parametrize(("label", "gives_to"), [(3, {0, 2}), (2, {0}), (1, {3})])
def test_shrink_changes_only_that_label_into_the_one_further_out(label, gives_to):
    """Enhancing gives way to oedema, and to background where its lobe touches it."""
    mask = tumour()
    out = edit_mask(mask, f"shrink={label}:1", BRAIN)
    changed = out != mask
    assert changed.any() and (mask[changed] == label).all()
    assert set(np.unique(out[changed])) <= gives_to
    assert area(out, (label,)) < area(mask, (label,))


def test_grow_or_shrink_a_missing_label_is_refused():
    mask = tumour()
    mask[mask == 3] = 2
    with pytest.raises(BrainsynthError, match=r"no enhancing \(label 3\) to grow"):
        edit_mask(mask, "grow=enhancing:2", BRAIN)


def test_insert_lands_inside_the_brain_nearest_to_where_it_was():
    donor = tumour(centre=(30, 28))
    empty = np.zeros_like(donor)
    same = edit_mask(empty, "insert=0", BRAIN, sources=[donor])
    np.testing.assert_array_equal(same, donor)  # it fits where it was: it stays there
    small_brain = disc((40, 36), 18)
    out = edit_mask(empty, "insert=0", small_brain, sources=[donor])
    assert not out[~small_brain].any()
    assert sorted(np.unique(out, return_counts=True)[1][1:]) == sorted(
        np.unique(donor, return_counts=True)[1][1:]
    )  # the whole tumour, every label, nothing clipped
    shift = centroid(out) - centroid(donor)
    assert np.allclose(shift, np.rint(shift))  # a translation by whole pixels
    assert 0 < np.hypot(*shift) < 14  # moved as little as it must (the centres are 12 apart)
    with pytest.raises(BrainsynthError, match="does not fit inside this slice's brain"):
        edit_mask(empty, "insert=0", disc((32, 32), 6), sources=[donor])
    with pytest.raises(BrainsynthError, match="already has a tumour"):
        edit_mask(donor, "insert=0", BRAIN, sources=[donor])
    with pytest.raises(BrainsynthError, match=r"'insert=1': INDEX must be a mask index from 0"):
        edit_mask(empty, "insert=1", BRAIN, sources=[donor])
    chained = edit_mask(donor, "remove;insert=0;move=2,0", BRAIN, sources=[donor])
    np.testing.assert_array_equal(chained, np.roll(donor, 2, axis=1))


def test_a_chain_is_its_steps_in_order_and_deterministic():
    mask = tumour()
    chained = edit_mask(mask, "scale=1.5; move=4,0 ;rotate=30;", BRAIN)
    step = mask_edit.scale(mask, 1.5, BRAIN)
    step = mask_edit.move(step, 4, 0, BRAIN)
    step = mask_edit.rotate(step, 30, BRAIN)
    np.testing.assert_array_equal(chained, step)
    np.testing.assert_array_equal(edit_mask(mask, "scale=1.5;move=4,0;rotate=30", BRAIN), step)
    assert chained.dtype == np.uint8 and chained.max() <= 3
    assert parse_edits("Scale=2;FLIP=lr;grow=oedema:3;shrink=core:1;insert=2") == [
        Edit("scale", (2.0,), "Scale=2"),
        Edit("flip", ("lr",), "FLIP=lr"),
        Edit("grow", (2, 3), "grow=oedema:3"),
        Edit("shrink", (1, 1), "shrink=core:1"),
        Edit("insert", (2,), "insert=2"),
    ]


def test_an_edit_of_a_tumour_free_slice_says_so():
    with pytest.raises(BrainsynthError, match=r"^--edit 'scale=2': this slice has no tumour"):
        edit_mask(np.zeros((SIZE, SIZE), dtype=np.uint8), "scale=2", BRAIN)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty; give operations"),
        ("scale=0.1", r"scale must be in \[0.25, 4\]"),
        ("scale=5", r"scale must be in \[0.25, 4\]"),
        ("scale=nan", "the scale must be a finite number, got 'nan'"),
        ("scale=inf", "must be a finite number"),
        ("scale=1e999", "must be a finite number"),
        ("scale=", r"scale needs a value"),
        ("scale", r"scale needs a value"),
        ("move=4", "move takes DX,DY"),
        ("move=1.5,0", "DX and DY must be a whole number"),
        ("move=64,0", "below the image side 64"),
        ("move=0,-64", "below the image side 64"),
        ("rotate=400", r"rotate takes degrees in \[-360, 360\]"),
        ("rotate=ten", "the angle must be a finite number"),
        ("flip=diagonal", "flip takes lr"),
        ("remove=now", "remove takes no value"),
        ("grow=4:2", "grow takes LABEL:PIXELS"),
        ("grow=2", "grow takes LABEL:PIXELS"),
        ("shrink=2:0", "PIXELS must be from 1 to 63"),
        ("shrink=2:64", "PIXELS must be from 1 to 63"),
        ("grow=2:1.5", "PIXELS must be a whole number"),
        ("insert=-1", "INDEX must be a mask index from 0 below 3"),
        ("insert=3", "INDEX must be a mask index from 0 below 3"),
        ("zoom=2", "unknown operation 'zoom'"),
        ("scale=2;;move=1,1", "an empty operation between ';'"),
        ("scale=2\nmove=1,1", "control characters"),
        (";".join(["remove"] * 33), "more than 32 operations"),
        ("scale=" + "1" * 2000, "longer than 2000 characters"),
    ],
)
def test_spec_errors_are_one_line(spec, message):
    with pytest.raises(BrainsynthError, match=message) as caught:
        parse_edits(spec, size=SIZE, sources=3)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("--edit")


def test_bounds_unknown_at_parse_time_are_checked_when_applied():
    edits = parse_edits("move=70,0")  # no image side given: only the general limit
    with pytest.raises(BrainsynthError, match="below the image side 64"):
        apply_edits(tumour(), edits, BRAIN)
