"""``manifest.json``: the sha256 of every file of an export, so an altered file is refused.

An export (:mod:`brainsynth.sampling.exported`) is a folder of files that travel together
(``config.json``, ``model.safetensors``, ``README.md``). Its manifest lists each by name
with the sha256 of its bytes::

    {"format": "brainsynth-generator-manifest", "algorithm": "sha256",
     "files": {"README.md": "9f2c...", "config.json": "51ab...", "model.safetensors": "c0d4..."}}

Loading an export checks every listed file before it reads a value from any of them, so a
hand edit of ``config.json`` (swapped class names, another background floor), a card that
was changed, a truncated download or a file swapped in from another export is refused in
one line naming the file. The same check runs without brainsynth: ``sha256sum FILE``
prints the hash to compare.

**What a hash does not do.** It guards against accidents, not against a forger: whoever
rewrites ``config.json`` can rewrite the manifest too. A bundle from someone you do not
trust is trusted only as far as its source: compare the sha256 of ``manifest.json``
(``brainsynth export`` prints it) with the one the sender published by another channel.
Whatever a bundle holds, loading it never runs code (safetensors and JSON only) and every
value is validated before use (:mod:`brainsynth.sampling.exported`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

from brainsynth.errors import BrainsynthError

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "brainsynth-generator-manifest"
MAX_MANIFEST_BYTES = 64 * 1024  # three names and hashes take 300 bytes
HEX64 = re.compile(r"[0-9a-f]{64}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_text(folder: Path, names: Iterable[str]) -> str:
    """The manifest of the files ``names`` of ``folder``, as the text to write."""
    files = {name: sha256_of(folder / name) for name in sorted(names)}
    record = {"format": MANIFEST_FORMAT, "algorithm": "sha256", "files": files}
    return json.dumps(record, indent=2) + "\n"


def read_manifest(folder: Path, required: Iterable[str], known: Iterable[str]) -> dict[str, str]:
    """The ``name -> sha256`` of the folder's manifest: every ``required`` name listed, none
    outside ``known`` (a name from a file never becomes a path unless it is one of ours)."""
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise BrainsynthError(
            f"{folder}: {MANIFEST_FILE} is missing (every export of this format has one: an "
            "incomplete copy?)"
        )
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise BrainsynthError(f"{path}: larger than {MAX_MANIFEST_BYTES:,} bytes, not a manifest")
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BrainsynthError(f"{path}: unreadable manifest ({type(exc).__name__})") from exc
    files = record.get("files") if isinstance(record, dict) else None
    if (
        not isinstance(record, dict)
        or record.get("format") != MANIFEST_FORMAT
        or record.get("algorithm") != "sha256"
        or not isinstance(files, dict)
    ):
        raise BrainsynthError(f"{path}: not a brainsynth manifest")
    known = set(known)
    for name, digest in files.items():
        if name not in known:
            raise BrainsynthError(f"{path}: lists {name!r:.60}, which is not a file of an export")
        if not isinstance(digest, str) or not HEX64.fullmatch(digest):
            raise BrainsynthError(f"{path}: the sha256 of {name} is not 64 hex digits")
    missing = [name for name in required if name not in files]
    if missing:
        raise BrainsynthError(f"{path}: does not list {', '.join(missing)}")
    return dict(files)


def check_file(path: Path, expected: str, data: bytes | None = None) -> None:
    """Refuse ``path`` (or its ``data``, already read) unless its sha256 is ``expected``."""
    if not path.is_file():
        raise BrainsynthError(f"{path}: missing (listed in {MANIFEST_FILE})")
    actual = hashlib.sha256(data).hexdigest() if data is not None else sha256_of(path)
    if actual != expected:
        raise BrainsynthError(
            f"{path}: does not match its sha256 in {MANIFEST_FILE} (edited, corrupt or from "
            "another export); export the run again, or fetch the folder again"
        )
