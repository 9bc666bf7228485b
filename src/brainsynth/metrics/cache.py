"""What an evaluation learns about a prepared set's real images, kept beside it for the next.

Two models evaluated against one prepared set (the demo's, a benchmark's candidates) see
the same real images: their handcrafted features, the domain encoder trained on them and
its features are computed once and kept in ``PREPARED/evaluate-cache/``. That subfolder
follows the one output rule (:mod:`brainsynth.outputs`): ``evaluate`` creates it, marks it
as its own and writes only files it lists there; a subfolder of that name that ``evaluate``
did not make is left alone. Every entry is keyed by the SHA-1 of the prepared set's
``dataset.json``, of the evaluated real images' bytes and of the settings it depends on,
so a re-prepared folder or another subset never reads a stale entry. A folder that cannot
be written (read-only data) just means no cache, said in one line. At most
:data:`MAX_ENTRIES` entries are kept (the oldest go first).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from brainsynth.errors import BrainsynthError

FOLDER = "evaluate-cache"
COMMAND = "evaluate"
MAX_ENTRIES = 24
ENTRY_PATTERN = r"[a-z0-9_-]+-[0-9a-f]{20}\.(npy|npz|pt|json)"
"""The names of the cache's entries (``TAG-DIGEST.SUFFIX``): what its marker may list."""


def digest(*parts: Any) -> str:
    """A short SHA-1 of arrays (their bytes, shape and dtype) and plain values."""
    h = hashlib.sha1()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(f"{part.shape}{part.dtype}".encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(repr(part).encode())
    return h.hexdigest()[:20]


class RealCache:
    """Arrays and encoders computed from the real images of one prepared set."""

    def __init__(self, folder: Path, dataset_key: str, writable: bool = True) -> None:
        self.folder = folder
        self.dataset_key = dataset_key
        self.writable = writable  # False: read, never written (a read-only folder)
        self.claim: Any = None

    def entry(self, tag: str, *parts: Any, suffix: str = ".npy") -> Path:
        return self.folder / f"{tag}-{digest(self.dataset_key, *parts)}{suffix}"

    def array(
        self, tag: str, images: np.ndarray, compute: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        """``compute(images)``, read from the cache when an entry of these images exists."""
        path = self.entry(tag, images)
        cached = self.read_array(path, len(images))
        if cached is not None:
            return cached
        values = compute(images)
        self.write(path, lambda tmp: np.save(tmp, values, allow_pickle=False))
        return values

    def record(self, tag: str, parts: list[Any], compute: Callable[[], dict]) -> dict:
        """``compute()`` (a dict of arrays, train/val/test index pairs and JSON values), read
        from the cache when an entry of these ``parts`` exists (a real-vs-real control)."""
        import json

        path = self.entry(tag, *parts, suffix=".npz")
        if self.owns(path.name) and path.is_file() and not path.is_symlink():
            try:
                with np.load(path, allow_pickle=False) as stored:
                    return unpack(dict(stored), json.loads(str(stored["__json__"])))
            except (OSError, ValueError, KeyError):
                pass
        result = compute()
        arrays, plain = pack(result)
        self.write(path, lambda tmp: np.savez(tmp, __json__=json.dumps(plain), **arrays))
        return result

    def stored(
        self,
        tag: str,
        parts: list[Any],
        suffix: str,
        load: Callable[[Path], Any],
        compute: Callable[[], Any],
        save: Callable[[Any, Path], Any],
    ) -> tuple[Any, Path]:
        """``compute()`` kept as one file (a trained network): ``load(path)`` when this
        cache holds an entry of ``parts``, else computed and written by ``save(value, tmp)``.
        An entry ``load`` refuses (``ValueError``, ``OSError`` or ``BrainsynthError``:
        damaged, foreign, another shape) is computed again. Returns the value and the
        entry's path."""
        path = self.entry(tag, *parts, suffix=suffix)
        if self.owns(path.name) and path.is_file() and not path.is_symlink():
            try:
                return load(path), path
            except (OSError, ValueError, BrainsynthError):
                pass
        value = compute()
        self.write(path, lambda tmp: save(value, tmp))
        return value, path

    def warmed(self, key: list[Any]) -> set[str]:
        """The families whose work on the real images of the evaluation ``key`` is cached
        (see :func:`brainsynth.metrics.evaluate.warm_real_side`)."""
        import json

        path = self.entry("real-side", *key, suffix=".json")
        if not self.owns(path.name) or not path.is_file() or path.is_symlink():
            return set()
        try:
            names = json.loads(path.read_text())["families"]
        except (OSError, ValueError, KeyError, TypeError):
            return set()
        return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()

    def mark_warmed(self, key: list[Any], names: set[str]) -> None:
        """Record that the real side of ``names`` is cached for the evaluation ``key``."""
        import json

        path = self.entry("real-side", *key, suffix=".json")
        text = json.dumps({"families": sorted(names)})
        self.write(path, lambda tmp: tmp.write_text(text))

    def read_array(self, path: Path, rows: int) -> np.ndarray | None:
        """A cached array of ``rows`` finite rows, or None (absent, foreign or damaged)."""
        if not self.owns(path.name) or not path.is_file() or path.is_symlink():
            return None
        try:
            values = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        if values.ndim != 2 or len(values) != rows or not np.isfinite(values).all():
            return None
        return values

    def owns(self, name: str) -> bool:
        from brainsynth.outputs import read_marker

        marker = read_marker(self.folder)
        return marker is not None and marker["command"] == COMMAND and name in marker["files"]

    def write(self, path: Path, save: Callable[[Path], Any]) -> None:
        """Write ``path`` through ``save(tmp)`` and a rename, listed in the marker first; a
        failure to write only loses the cache entry."""
        if not self.writable:
            return
        try:
            if self.claim is None:
                from brainsynth.outputs import Vocabulary, claim_folder

                vocabulary = Vocabulary(file_pattern=ENTRY_PATTERN)
                self.claim = claim_folder(self.folder, COMMAND, "--real", vocabulary=vocabulary)
            self._evict()
            self.claim.begin([path.name])
            tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
            save(tmp)
            os.replace(tmp, path)
        except (OSError, BrainsynthError):
            return

    def _evict(self) -> None:
        """Remove this command's oldest entries beyond :data:`MAX_ENTRIES`."""
        owned = [self.folder / n for n in sorted(self.claim.owned) if (self.folder / n).is_file()]
        owned.sort(key=lambda p: p.stat().st_mtime)
        for stale in owned[: max(0, len(owned) - MAX_ENTRIES + 1)]:
            stale.unlink(missing_ok=True)
            self.claim.owned.discard(stale.name)


def open_cache(prepared: str | os.PathLike[str] | None) -> tuple[RealCache | None, str]:
    """The cache of a prepared folder, and one line saying what it is (or why there is none)."""
    from brainsynth.outputs import read_marker

    if prepared is None:
        return None, "no cache: the real images come from no prepared folder"
    root = Path(prepared)
    try:
        dataset_key = digest((root / "dataset.json").read_bytes())
    except OSError:
        return None, f"no cache: {root}/dataset.json cannot be read"
    folder = root / FOLDER
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        return None, f"no cache: {folder} is not a folder evaluate made"
    if folder.is_dir():
        marker = read_marker(folder)
        if marker is None or marker["command"] != COMMAND:
            return None, f"no cache: {folder} was not made by 'brainsynth evaluate'"
        if not os.access(folder, os.W_OK | os.X_OK):
            note = f"cache {folder} (read-only: read, not written)"
            return RealCache(folder, dataset_key, writable=False), note
    elif not os.access(root, os.W_OK | os.X_OK):
        return None, f"no cache: the prepared folder {root} is read-only"
    return RealCache(folder, dataset_key), f"cache {folder}"


def pack(result: dict) -> tuple[dict[str, np.ndarray], dict]:
    """Split a result into arrays (``split`` pairs as ``split.NAME.0/1``) and JSON values;
    values of neither kind (a model, tensors) are left out."""
    arrays: dict[str, np.ndarray] = {}
    plain: dict = {}
    for key, value in result.items():
        if isinstance(value, np.ndarray):
            arrays[key] = value
        elif key == "split":
            for name, pair in value.items():
                arrays[f"split.{name}.0"], arrays[f"split.{name}.1"] = pair
        elif isinstance(value, (str, int, float, bool, list, dict, type(None))):
            plain[key] = value
    return arrays, plain


def unpack(arrays: dict[str, np.ndarray], plain: dict) -> dict:
    """The result :func:`pack` split."""
    out = dict(plain)
    for key, value in arrays.items():
        if key.startswith("split."):
            _, name, side = key.split(".")
            out.setdefault("split", {}).setdefault(name, [None, None])[int(side)] = value
        elif key != "__json__":
            out[key] = value
    out["split"] = {name: tuple(pair) for name, pair in out.get("split", {}).items()}
    return out
