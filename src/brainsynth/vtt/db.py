"""The Visual Turing Test database: one SQLite file, WAL journal, a versioned schema.

Every write runs in a ``BEGIN IMMEDIATE`` transaction and is committed with
``synchronous=FULL`` before the server answers, so an answer is on disk before the next image
is shown and survives a SIGKILL of the server. UNIQUE constraints make each answer count once
however many times a rater's browser retries the post.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from brainsynth.errors import BrainsynthError
from brainsynth.outputs import check_path_text
from brainsynth.outputs import check_writable as check_folder_writable

SCHEMA_VERSION = 1
"""Bumped whenever :data:`SCHEMA` changes; a database of another version is refused."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS studies (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    sequence    TEXT NOT NULL,
    n_real      INTEGER NOT NULL CHECK (n_real >= 0),
    n_fake      INTEGER NOT NULL CHECK (n_fake >= 0),
    image_size  INTEGER NOT NULL,
    seed        INTEGER NOT NULL,
    created_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    id        INTEGER PRIMARY KEY,
    study_id  TEXT NOT NULL REFERENCES studies(id),
    truth     TEXT NOT NULL CHECK (truth IN ('real', 'synthetic')),
    source    TEXT NOT NULL,
    png       BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS items_study ON items(study_id);
CREATE TABLE IF NOT EXISTS raters (
    id          INTEGER PRIMARY KEY,
    study_id    TEXT NOT NULL REFERENCES studies(id),
    name        TEXT NOT NULL,
    token       TEXT NOT NULL UNIQUE,
    csrf        TEXT NOT NULL,
    seed        INTEGER NOT NULL,
    created_at  REAL NOT NULL,
    started_at  REAL,
    UNIQUE (study_id, name)
);
CREATE TABLE IF NOT EXISTS assignments (
    rater_id  INTEGER NOT NULL REFERENCES raters(id),
    position  INTEGER NOT NULL,
    item_id   INTEGER NOT NULL REFERENCES items(id),
    image_key TEXT NOT NULL UNIQUE,
    shown_at  REAL,
    PRIMARY KEY (rater_id, position),
    UNIQUE (rater_id, item_id)
);
CREATE TABLE IF NOT EXISTS answers (
    rater_id     INTEGER NOT NULL REFERENCES raters(id),
    position     INTEGER NOT NULL,
    item_id      INTEGER NOT NULL REFERENCES items(id),
    answer       TEXT NOT NULL CHECK (answer IN ('real', 'synthetic')),
    shown_at     REAL NOT NULL,
    answered_at  REAL NOT NULL,
    response_ms  INTEGER NOT NULL,
    PRIMARY KEY (rater_id, position),
    UNIQUE (rater_id, item_id)
);
"""


def connect(db: str | os.PathLike[str], create: bool = False) -> sqlite3.Connection:
    """Open the database (autocommit mode; use :func:`transaction` for writes).

    ``create`` makes the file and schema when missing; otherwise a missing file is an error.
    A database written by another schema version is refused with a clear message.
    """
    path = Path(db)
    check_path_text(path, "--db")
    if path.is_dir():
        raise BrainsynthError(f"--db {path}: is a folder; give a file name such as {path}/vtt.db")
    if not create and not path.is_file():
        raise BrainsynthError(f"{path}: no such study database (create one with 'vtt create')")
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise BrainsynthError(f"{path}: cannot open the study database ({exc})") from exc
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        fresh = _is_fresh(conn, path, create)  # before any PRAGMA that writes the file
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        _ensure_schema(conn, path, fresh)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise BrainsynthError(f"{path}: not a brainsynth study database ({exc})") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _is_fresh(conn: sqlite3.Connection, path: Path, create: bool) -> bool:
    """True for an empty database to create the schema in; refuse someone else's file.

    Another program's SQLite file is left exactly as it was (not even switched to WAL).
    """
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    if "meta" in tables:
        return False
    if not create or tables:
        raise BrainsynthError(f"{path}: not a brainsynth study database (no schema)")
    return True


def _ensure_schema(conn: sqlite3.Connection, path: Path, fresh: bool) -> None:
    if fresh:
        conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
        with transaction(conn):
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
    version = get_meta(conn, "schema_version")
    if version != str(SCHEMA_VERSION):
        raise BrainsynthError(
            f"{path}: schema version {version} but this brainsynth reads {SCHEMA_VERSION}"
        )


def check_writable(db: str | os.PathLike[str]) -> None:
    """Refuse a database (or the folder it is to be created in) that cannot be written.

    SQLite in WAL mode also writes ``<db>-wal`` and ``<db>-shm`` beside the file, so the
    folder must be writable too. Checked before any work, so nothing is half-done.
    """
    path = Path(db)
    check_path_text(path, "--db")
    if path.is_dir():
        raise BrainsynthError(f"--db {path}: is a folder; give a file name such as {path}/vtt.db")
    check_folder_writable(path.parent, "--db", shown_as=str(path))
    if path.exists() and not os.access(path, os.W_OK):
        raise BrainsynthError(f"--db {path}: the database file is read-only")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on any exception).

    IMMEDIATE takes the write lock up front, so two concurrent writers queue on the busy
    timeout instead of failing half-way with "database is locked".
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def opened(db: str | os.PathLike[str], create: bool = False) -> Iterator[sqlite3.Connection]:
    """Open the database for the duration of a ``with`` block and close it afterwards."""
    conn = connect(db, create=create)
    try:
        yield conn
    finally:
        conn.close()


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row["value"])


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    with transaction(conn):
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def now() -> float:
    """Wall-clock seconds since the epoch (stored with every timestamp)."""
    return time.time()
