"""Creating a Visual Turing Test study and inviting its raters (paper §3.3).

A study is a random selection of real and synthetic images (50/50 in the paper), shown to each
rater in an independent random order. For Concat the real half is drawn in equal parts from
T1, T1c, T2 and FLAIR, "Concat images were classified together with real T1, T1c, T2, and
FLAIR images in equal proportion" (§3.3).

Every image, real or synthetic, is resampled to one size and re-encoded through
:func:`brainsynth.imageio.save_png` (8-bit grayscale, no metadata) and stored in the database;
the server shows it under a random per-rater key. Nothing but its pixels tells the two apart.
"""

from __future__ import annotations

import io
import os
import re
import secrets

import numpy as np
from PIL import Image

from brainsynth.data.dataset import ImageSet
from brainsynth.errors import BrainsynthError
from brainsynth.imageio import save_png
from brainsynth.paper import IMAGE_SETS, SEQUENCES
from brainsynth.vtt import db as vttdb

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
"""Shape of a rater token: ``secrets.token_urlsafe(32)``, 256 random bits."""

MAX_NAME = 200


def encode_png(image: np.ndarray, size: int) -> bytes:
    """Resample a (1, H, W) float image in [0, 1] to ``size`` x ``size`` and encode it as PNG.

    The one encoding path for real and synthetic images alike: same size, same 8-bit
    grayscale mode, same encoder settings, no metadata.
    """
    array = np.asarray(image, dtype=np.float32).reshape(image.shape[-2:])
    if array.shape != (size, size):
        resized = Image.fromarray(array, mode="F").resize((size, size), Image.Resampling.LANCZOS)
        array = np.asarray(resized, dtype=np.float32)
    buffer = io.BytesIO()
    save_png(buffer, np.clip(array, 0.0, 1.0))
    return buffer.getvalue()


def draw_real(real: ImageSet, n: int, rng: np.random.Generator, sequence: str) -> list[int]:
    """Indices of ``n`` real images drawn without replacement.

    For ``concat`` the draw is split as equally as possible over the four sequences (with
    ``n`` not divisible by four the first sequences get one more, e.g. 13/13/12/12 for 50).
    """
    if sequence != "concat":
        if n > len(real):
            raise BrainsynthError(f"--n-real {n}: the prepared set has only {len(real)} images")
        return [int(i) for i in rng.choice(len(real), size=n, replace=False)]
    chosen: list[int] = []
    for c in range(len(SEQUENCES)):
        share = n // len(SEQUENCES) + (1 if c < n % len(SEQUENCES) else 0)
        pool = np.flatnonzero(np.asarray(real.channels) == c)
        if share > len(pool):
            raise BrainsynthError(
                f"--n-real {n}: needs {share} {SEQUENCES[c]} images, the set has {len(pool)}"
            )
        chosen.extend(int(i) for i in rng.choice(pool, size=share, replace=False))
    return chosen


def _check_fake(fake: np.ndarray, n_fake: int) -> np.ndarray:
    fake = np.asarray(fake)
    if fake.ndim != 4 or fake.shape[1] != 1 or fake.shape[2] != fake.shape[3]:
        raise BrainsynthError(f"--fake: expected square images (N, 1, H, W), got {fake.shape}")
    if n_fake > len(fake):
        raise BrainsynthError(f"--n-fake {n_fake}: the source has only {len(fake)} images")
    if not np.isfinite(fake).all():
        raise BrainsynthError("--fake: images contain NaN or infinite values")
    return fake


def create_study(
    db: str | os.PathLike[str],
    name: str,
    real: ImageSet,
    fake: np.ndarray,
    n_real: int = 50,
    n_fake: int = 50,
    seed: int = 0,
    sequence: str | None = None,
) -> str:
    """Draw ``n_real`` real and ``n_fake`` synthetic images, store them, return the study id.

    ``real`` is an image set from :meth:`PreparedDataset.image_set` (its ``name`` is the
    default ``sequence``); ``fake`` is (N, 1, H, W) float in [0, 1]. All images are stored
    at the synthetic images' size (real ones are resampled when the sizes differ, as for the
    paper's 64 x 64 Concat study).
    """
    sequence = (sequence or real.name).lower()
    if sequence not in IMAGE_SETS:
        raise BrainsynthError(f"--sequence {sequence!r}: choose one of {', '.join(IMAGE_SETS)}")
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise BrainsynthError(f"--name: give a study name of 1 to {MAX_NAME} characters")
    if n_real < 0 or n_fake < 0 or n_real + n_fake == 0:
        raise BrainsynthError("--n-real/--n-fake: need a non-negative count, at least one image")
    fake = _check_fake(fake, n_fake)
    size = int(fake.shape[-1])
    rng = np.random.default_rng(seed)
    real_idx = draw_real(real, n_real, rng, sequence)
    fake_idx = [int(i) for i in rng.choice(len(fake), size=n_fake, replace=False)]
    items = [("real", i) for i in real_idx] + [("synthetic", i) for i in fake_idx]
    order = rng.permutation(len(items))
    study_id = secrets.token_hex(8)
    with vttdb.opened(db, create=True) as conn, vttdb.transaction(conn):
        conn.execute(
            "INSERT INTO studies (id, name, sequence, n_real, n_fake, image_size, seed, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (study_id, name, sequence, n_real, n_fake, size, seed, vttdb.now()),
        )
        for k in order:
            truth, i = items[k]
            if truth == "real":
                image = np.asarray(real.images[i], dtype=np.float32)
                if real.images.dtype == np.uint8:
                    image = image / 255.0
                channel = SEQUENCES[int(real.channels[i])]
                source = f"real:{channel}:{real.patients[i]}:row{int(real.rows[i])}"
            else:
                image, source = fake[i], f"synthetic:{i}"
            conn.execute(
                "INSERT INTO items (study_id, truth, source, png) VALUES (?, ?, ?, ?)",
                (study_id, truth, source, encode_png(np.clip(image, 0.0, 1.0), size)),
            )
    return study_id


def invite(db: str | os.PathLike[str], study_id: str, rater: str) -> str:
    """Add a rater to a study and return their secret token (link path ``/r/<token>``).

    The rater gets an independent random order of the study's images (seeded by a random
    seed stored with the rater) and a random, opaque key per image.
    """
    rater = rater.strip()
    if not rater or len(rater) > MAX_NAME or not rater.isprintable():
        raise BrainsynthError(f"--rater: give a printable name of 1 to {MAX_NAME} characters")
    with vttdb.opened(db) as conn, vttdb.transaction(conn):
        if not conn.execute("SELECT 1 FROM studies WHERE id = ?", (study_id,)).fetchone():
            raise BrainsynthError(f"--study {study_id}: no such study in {db}")
        if conn.execute(
            "SELECT 1 FROM raters WHERE study_id = ? AND name = ?", (study_id, rater)
        ).fetchone():
            raise BrainsynthError(f"--rater {rater!r}: already invited to study {study_id}")
        token, seed = secrets.token_urlsafe(32), secrets.randbits(63)
        cursor = conn.execute(
            "INSERT INTO raters (study_id, name, token, csrf, seed, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (study_id, rater, token, secrets.token_urlsafe(32), seed, vttdb.now()),
        )
        item_ids = [
            row["id"]
            for row in conn.execute(
                "SELECT id FROM items WHERE study_id = ? ORDER BY id", (study_id,)
            )
        ]
        order = np.random.default_rng(seed).permutation(len(item_ids))
        conn.executemany(
            "INSERT INTO assignments (rater_id, position, item_id, image_key) VALUES (?, ?, ?, ?)",
            [
                (cursor.lastrowid, pos, item_ids[k], secrets.token_urlsafe(24))
                for pos, k in enumerate(order)
            ],
        )
    return token
