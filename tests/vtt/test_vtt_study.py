"""Study creation and invitations: the draw, the one PNG path, validation."""

from __future__ import annotations

import io
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from vtt_helpers import fake_images

from brainsynth.data.dataset import load_prepared
from brainsynth.errors import BrainsynthError
from brainsynth.vtt import db as vttdb
from brainsynth.vtt.study import TOKEN_PATTERN, create_study, invite


def _rows(db: Path, sql: str, *params: object) -> list[sqlite3.Row]:
    with vttdb.opened(db) as conn:
        return conn.execute(sql, params).fetchall()


def test_create_stores_the_requested_mix_as_identical_pngs(blob_prepared: Path, tmp_path: Path):
    db = tmp_path / "vtt.db"
    real = load_prepared(blob_prepared).image_set("t2")
    fake = fake_images(12, size=32)  # synthetic at 32 px: real 16 px images are resampled
    study = create_study(
        db, "T2 (WGAN, 32x32)", real, fake, n_real=5, n_fake=7, seed=3, allow_upsample=True
    )
    items = _rows(db, "SELECT truth, source, png FROM items WHERE study_id = ?", study)
    assert Counter(r["truth"] for r in items) == {"real": 5, "synthetic": 7}
    for row in items:
        with Image.open(io.BytesIO(row["png"])) as img:
            assert (img.format, img.mode, img.size) == ("PNG", "L", (32, 32))
            assert img.info == {}
    # Only the pixels differ: the encoder adds no chunk other than IHDR, IDAT, IEND.
    chunks = {_png_chunks(r["png"]) for r in items}
    assert chunks == {("IHDR", "IDAT", "IEND")}
    (study_row,) = _rows(db, "SELECT * FROM studies")
    assert (study_row["sequence"], study_row["image_size"]) == ("t2", 32)


def _png_chunks(data: bytes) -> tuple[str, ...]:
    names, offset = [], 8
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        name = data[offset + 4 : offset + 8].decode()
        if not names or names[-1] != name:
            names.append(name)
        offset += 12 + length
    return tuple(names)


def test_real_image_pixels_survive_the_png_path(blob_prepared: Path, tmp_path: Path) -> None:
    real = load_prepared(blob_prepared).image_set("t1")
    db = tmp_path / "vtt.db"
    create_study(db, "T1", real, fake_images(4), n_real=3, n_fake=1)
    for row in _rows(db, "SELECT source, png FROM items WHERE truth = 'real'"):
        index = int(row["source"].rsplit(":row", 1)[1])
        decoded = np.asarray(Image.open(io.BytesIO(row["png"])))
        expected = np.rint(real.images[index, 0] * 255).astype(np.uint8)
        np.testing.assert_array_equal(decoded, expected)


def test_concat_draws_real_images_equally_from_the_four_sequences(
    blob_prepared: Path, tmp_path: Path
) -> None:
    real = load_prepared(blob_prepared).image_set("concat")
    db = tmp_path / "vtt.db"
    create_study(db, "Concat", real, fake_images(10), n_real=10, n_fake=2, sequence="concat")
    sources = [
        r["source"].split(":")[1]
        for r in _rows(db, "SELECT source FROM items WHERE truth = 'real'")
    ]
    assert Counter(sources) == {"t1": 3, "t1c": 3, "t2": 2, "flair": 2}


def test_draw_is_reproducible_from_the_seed(blob_prepared: Path, tmp_path: Path) -> None:
    real = load_prepared(blob_prepared).image_set("t1")
    fake = fake_images(10)
    draws = []
    for i, seed in enumerate((5, 5, 6)):
        db = tmp_path / f"{i}.db"
        create_study(db, "T1", real, fake, n_real=4, n_fake=4, seed=seed)
        draws.append(sorted(r["source"] for r in _rows(db, "SELECT source FROM items")))
    assert draws[0] == draws[1]
    assert draws[0] != draws[2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_real": 999}, "--n-real 999"),
        ({"n_fake": 999}, "--n-fake 999"),
        ({"n_real": 0, "n_fake": 0}, "at least one image"),
        ({"sequence": "t3"}, "--sequence"),
        ({"name": "  "}, "--name"),
        ({"fake": np.zeros((4, 3, 16, 16))}, "--fake"),
        ({"fake": np.full((4, 1, 16, 16), np.nan)}, "NaN"),
    ],
)
def test_create_rejects_bad_input(blob_prepared: Path, tmp_path: Path, kwargs, message) -> None:
    args = {
        "name": "T1",
        "real": load_prepared(blob_prepared).image_set("t1"),
        "fake": fake_images(8),
        "n_real": 2,
        "n_fake": 2,
    } | kwargs
    with pytest.raises(BrainsynthError, match=message):
        create_study(tmp_path / "vtt.db", **args)


def test_invite_gives_each_rater_a_secret_token_and_own_order(
    blob_prepared: Path, tmp_path: Path
) -> None:
    real = load_prepared(blob_prepared).image_set("t1")
    db = tmp_path / "vtt.db"
    study = create_study(db, "T1", real, fake_images(12), n_real=10, n_fake=10)
    tokens = [invite(db, study, f"rater {i}") for i in range(4)]
    assert len(set(tokens)) == 4 and all(TOKEN_PATTERN.match(t) for t in tokens)
    orders = []
    for token in tokens:
        rows = _rows(
            db,
            "SELECT a.item_id, a.image_key FROM assignments a JOIN raters r "
            "ON r.id = a.rater_id WHERE r.token = ? ORDER BY a.position",
            token,
        )
        assert len(rows) == 20
        orders.append(tuple(r["item_id"] for r in rows))
    assert len(set(orders)) == 4  # independent random orders
    keys = _rows(db, "SELECT image_key FROM assignments")
    assert len({k["image_key"] for k in keys}) == 80  # a fresh opaque key per rater and image


def test_invite_rejects_unknown_study_and_duplicate_rater(small_study) -> None:
    with pytest.raises(BrainsynthError, match="no such study"):
        invite(small_study.db, "0" * 16, "carol")
    with pytest.raises(BrainsynthError, match="already invited"):
        invite(small_study.db, small_study.study_id, "alice")
    with pytest.raises(BrainsynthError, match="--rater"):
        invite(small_study.db, small_study.study_id, "bad\nname")


def test_database_schema_version_is_checked(small_study, tmp_path: Path) -> None:
    with vttdb.opened(small_study.db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        vttdb.set_meta(conn, "schema_version", "999")
    with pytest.raises(BrainsynthError, match="schema version 999"):
        vttdb.connect(small_study.db)
    with pytest.raises(BrainsynthError, match="no such study database"):
        vttdb.connect(tmp_path / "missing.db")
    (tmp_path / "junk.db").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(BrainsynthError, match="not a brainsynth study database"):
        vttdb.connect(tmp_path / "junk.db")
