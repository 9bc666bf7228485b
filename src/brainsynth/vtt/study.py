"""Creating a Visual Turing Test study and inviting its raters (paper §3.3).

A study is a random selection of real and synthetic images (50/50 in the paper), shown to each
rater in an independent random order. For Concat the real half is drawn in equal parts from
T1, T1c, T2 and FLAIR, "Concat images were classified together with real T1, T1c, T2, and
FLAIR images in equal proportion" (§3.3).

Every image, real or synthetic, is resampled to one size and re-encoded through
:func:`brainsynth.imageio.save_png` (8-bit grayscale, no metadata) and stored in the database;
the server shows it under a random per-rater key. Nothing but its pixels tells the two apart.
Real images are never upsampled to the synthetic size unless asked (a blurred real image
gives itself away).

**No real image twice.** A physician rating several studies (the paper's rated all twelve
configurations) would recognise a real image seen before, so a new study draws its real
images from those no other study of the same database has used. Each real image is recorded
by its identity (``items.source`` = ``real:<sequence>:<patient>:<plane>:<slice>`` from the
command line, ``real:<sequence>:<patient>:row<row>`` through the Python API without ids);
when too few unused ones are left the draw is refused, unless ``allow_repeats``.
"""

from __future__ import annotations

import io
import os
import re
import secrets

import numpy as np
from PIL import Image

from brainsynth.config import check_image_size
from brainsynth.data.dataset import JOINT, TRAINING_SETS, ImageSet, PreparedDataset
from brainsynth.errors import BrainsynthError
from brainsynth.imageio import save_png
from brainsynth.paper import SEQUENCES
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


def channel_name(channel: int) -> str:
    """The sequence of a channel id, or ``joint`` for four-sequence stacks (id -1)."""
    return SEQUENCES[int(channel)] if channel >= 0 else "joint"


def real_image_ids(dataset: PreparedDataset, real: ImageSet) -> list[str]:
    """The identity of each image of ``real``: sequence, patient, plane and slice number.

    The same slice prepared again (at another size, with other filters) keeps its identity,
    so a later study of the same database does not show it again.
    """
    ids = []
    for channel, row in zip(real.channels, real.rows, strict=True):
        info = dataset.slices[int(row)]
        ids.append(
            f"{channel_name(channel)}:{info['patient']}:{info.get('plane', '')}:"
            f"{info.get('slice', '')}"
        )
    return ids


def row_ids(real: ImageSet) -> list[str]:
    """Identities from the image set alone (sequence, patient, row of ``slices.csv``)."""
    return [
        f"{channel_name(c)}:{p}:row{int(r)}"
        for c, p, r in zip(real.channels, real.patients, real.rows, strict=True)
    ]


def draw_real(
    real: ImageSet,
    n: int,
    rng: np.random.Generator,
    sequence: str,
    used: np.ndarray | None = None,
    allow_repeats: bool = False,
) -> list[int]:
    """Indices of ``n`` real images drawn without replacement, avoiding ``used`` ones.

    For ``concat`` the draw is split as equally as possible over the four sequences (with
    ``n`` not divisible by four the first sequences get one more, e.g. 13/13/12/12 for 50).
    ``used`` (bool per image) marks images other studies of the database showed; they are
    drawn only with ``allow_repeats``, and then only after every unused one.
    """
    used = np.zeros(len(real), dtype=bool) if used is None else np.asarray(used, dtype=bool)
    if sequence != "concat":
        groups = [(n, np.arange(len(real)), "")]
    else:
        groups = []
        for c in range(len(SEQUENCES)):
            share = n // len(SEQUENCES) + (1 if c < n % len(SEQUENCES) else 0)
            groups.append((share, np.flatnonzero(np.asarray(real.channels) == c), SEQUENCES[c]))
    chosen: list[int] = []
    for share, pool, label in groups:
        kind = f"{label} " if label else ""
        if share > len(pool):
            if label:
                raise BrainsynthError(
                    f"--n-real {n}: needs {share} {label} images, the set has {len(pool)}"
                )
            raise BrainsynthError(f"--n-real {n}: the prepared set has only {len(pool)} images")
        fresh = pool[~used[pool]]
        if share <= len(fresh):
            chosen.extend(int(i) for i in rng.choice(fresh, size=share, replace=False))
        elif allow_repeats:
            again = rng.choice(pool[used[pool]], size=share - len(fresh), replace=False)
            chosen.extend(int(i) for i in (*fresh, *again))
        else:
            raise BrainsynthError(
                f"--n-real {n}: needs {share} {kind}real images that no other study of this "
                f"database showed, but only {len(fresh)} of {len(pool)} are unused; lower "
                "--n-real, prepare more patients, or pass --allow-repeats"
            )
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


def check_name(name: str, flag: str) -> str:
    """A study or rater name: printable text (no newline or escape code), 1-200 characters."""
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise BrainsynthError(
            f"{flag}: give a printable name of 1 to {MAX_NAME} characters (no newlines or "
            "control characters)"
        )
    return name


def used_real_ids(conn) -> set[str]:
    """Identities of the real images every study of the database already holds."""
    rows = conn.execute("SELECT source FROM items WHERE truth = 'real'")
    return {str(row["source"]).removeprefix("real:") for row in rows}


def create_study(
    db: str | os.PathLike[str],
    name: str,
    real: ImageSet,
    fake: np.ndarray,
    n_real: int = 50,
    n_fake: int = 50,
    seed: int = 0,
    sequence: str | None = None,
    real_ids: list[str] | None = None,
    allow_repeats: bool = False,
    allow_upsample: bool = False,
) -> str:
    """Draw ``n_real`` real and ``n_fake`` synthetic images, store them, return the study id.

    ``real`` is an image set from :meth:`PreparedDataset.image_set` (its ``name`` is the
    default ``sequence``); ``fake`` is (N, 1, H, W) float in [0, 1]. All images are stored
    at the synthetic images' size: real ones are downsampled when larger (as for the paper's
    64 x 64 Concat study) and upsampled only with ``allow_upsample``. ``real_ids`` (see
    :func:`real_image_ids`) identify the real images across studies; real images another
    study of ``db`` used are not drawn again unless ``allow_repeats``.
    """
    sequence = (sequence or real.name).lower()
    if sequence not in TRAINING_SETS:
        raise BrainsynthError(f"--sequence {sequence!r}: choose one of {', '.join(TRAINING_SETS)}")
    name = check_name(name, "--name")
    if n_real < 0 or n_fake < 0 or n_real + n_fake == 0:
        raise BrainsynthError("--n-real/--n-fake: need a non-negative count, at least one image")
    fake = _check_fake(fake, n_fake)
    side = int(fake.shape[-1])  # joint slices arrive as 2x2 panels of four sequence images
    size = side if sequence == JOINT else check_image_size(side, "--fake: image side")
    real_size = int(real.images.shape[-1])
    if n_real and real_size < size and not allow_upsample:
        raise BrainsynthError(
            f"--real images are {real_size} px but --fake images are {size} px: upsampled real "
            "images would look blurred next to the synthetic ones; prepare the real set at "
            f"{size} px, or pass --allow-upsample"
        )
    ids = real_ids if real_ids is not None else row_ids(real)
    if len(ids) != len(real):
        raise ValueError(f"real_ids has {len(ids)} entries for {len(real)} images")
    vttdb.check_writable(db)
    rng = np.random.default_rng(seed)
    with vttdb.opened(db, create=True) as conn, vttdb.transaction(conn):
        taken = used_real_ids(conn)
        used = np.array([i in taken for i in ids], dtype=bool)
        real_idx = draw_real(real, n_real, rng, sequence, used, allow_repeats)
        fake_idx = [int(i) for i in rng.choice(len(fake), size=n_fake, replace=False)]
        items = [("real", i) for i in real_idx] + [("synthetic", i) for i in fake_idx]
        order = rng.permutation(len(items))
        study_id = secrets.token_hex(8)
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
                source = f"real:{ids[i]}"
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
    rater = check_name(rater, "--rater")
    vttdb.check_writable(db)
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
