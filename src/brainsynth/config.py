"""Dataclass configs that round-trip through YAML.

Every output folder gets the config that produced it (``config.yaml``), so a run can be
repeated. Configs are plain dataclasses of simple fields (str, int, float, bool, None,
lists, tuples and nested dataclasses); :func:`load_config` refuses unknown keys so a typo in
a YAML file is an error, not a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
import uuid
from collections.abc import Callable
from pathlib import Path
from types import UnionType
from typing import Any, BinaryIO, TypeVar

import yaml

from brainsynth.errors import BrainsynthError

T = TypeVar("T")

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")  # where torch work runs; auto = cuda if any


def field_default(cls: type, name: str) -> Any:
    """The default of dataclass ``cls``'s field ``name`` (for command-line help)."""
    for item in dataclasses.fields(cls):
        if item.name == name:
            if item.default_factory is not dataclasses.MISSING:
                return item.default_factory()
            return None if item.default is dataclasses.MISSING else item.default
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def config_to_dict(config: Any) -> dict[str, Any]:
    """A dataclass as a YAML-safe dict (tuples become lists, paths become strings)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, Path):
            return str(value)
        return value

    return plain(config)


def config_from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build dataclass ``cls`` from a dict, recursing into nested dataclass fields."""
    if not isinstance(data, dict):
        raise BrainsynthError(f"{cls.__name__}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise BrainsynthError(f"{cls.__name__}: unknown key(s) {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints.get(name)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = config_from_dict(hint, value)
        elif accepts_tuple(hint) and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required field missing, or a value of the wrong type
        raise BrainsynthError(f"{cls.__name__}: {exc}") from exc


def accepts_tuple(hint: Any) -> bool:
    """True for ``tuple[...]`` and for unions holding one (``tuple[float, float] | None``)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, UnionType) else ()
    return typing.get_origin(hint) is tuple or any(typing.get_origin(a) is tuple for a in options)


def save_config(config: Any, path: str | os.PathLike[str]) -> Path:
    """Write a dataclass config to ``path`` as YAML, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(config_to_dict(config), sort_keys=False)
    write_text_atomic(path, text)
    return path


def load_config(cls: type[T], path: str | os.PathLike[str]) -> T:
    """Read a YAML file written by :func:`save_config` back into dataclass ``cls``."""
    path = Path(path)
    if not path.is_file():
        raise BrainsynthError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise BrainsynthError(f"{path}: not valid YAML ({exc.__class__.__name__})") from exc
    return config_from_dict(cls, data or {})


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to a temporary file beside ``path``, then rename it into place
    (see :func:`write_atomic`)."""
    write_atomic(path, lambda handle: handle.write(text.encode("utf-8")))


def write_atomic(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(handle)`` on a new temporary file beside ``path``, then rename it into place.

    The temporary file is created like any other (so the umask decides its mode, unlike
    ``mkstemp``'s 0600) under a name no other writer uses, exclusively (which never follows
    a link), and the rename replaces the entry ``path`` itself: a symbolic link there is
    replaced, its target never written. Readers see the old file or the whole new one.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name[:100]}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


IMAGE_SIZES: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024)
"""Square image sides brainsynth prepares, trains at and shows in a Visual Turing Test.

The generators grow a 4x4 map by doublings (paper §3.2.2: 64 and 128), so a side must be a
power of two; 16 is the smallest the discriminator can reduce, 1024 the largest kept sane.
"""


def check_image_size(size: int, flag: str) -> int:
    """The one image-size rule shared by ``prepare --size``, ``train`` and ``vtt create``."""
    if isinstance(size, bool) or not isinstance(size, int) or size not in IMAGE_SIZES:
        raise BrainsynthError(
            f"{flag} {size}: image sides must be a power of two from {IMAGE_SIZES[0]} to "
            f"{IMAGE_SIZES[-1]} ({', '.join(map(str, IMAGE_SIZES))}), as the generators double "
            "a 4x4 map"
        )
    return size


def check_square(height: int, width: int, what: str) -> int:
    """Refuse non-square images (every model and the Visual Turing Test show squares)."""
    if height != width:
        raise BrainsynthError(f"{what}: images are {height}x{width}, not square")
    return int(height)


MAX_NESTING = 32
"""The deepest nesting of lists and mappings accepted in a config read from a file."""


def brief(value: Any, limit: int = 40) -> str:
    """``repr(value)`` for a one-line message, cut to ``limit`` characters (a value read from
    a file may be long, hold newlines or be nested; repr escapes the newlines)."""
    if isinstance(value, (dict, list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_nesting(value: Any, what: str, limit: int = MAX_NESTING) -> None:
    """Refuse lists and mappings nested deeper than ``limit`` (counted without recursion, so
    a 200,000-deep structure is one line, not a RecursionError later)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, (list, tuple)):
            children = list(item)
        else:
            continue
        if depth > limit:
            raise BrainsynthError(f"{what}: nested more than {limit} levels deep")
        stack.extend((child, depth + 1) for child in children)


def is_int(value: Any) -> bool:
    """A real integer: ``64``, not ``64.0``, ``True`` or ``"64"``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool, not NaN or infinite)."""
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


def check_int(value: Any, name: str, low: int, high: int, what: str) -> int:
    """``value`` if it is a real integer in ``low..high``; else one line naming ``what``."""
    if not is_int(value) or not low <= value <= high:
        raise BrainsynthError(
            f"{what}: {name} must be an integer in {low}..{high:,}, got {brief(value)}"
        )
    return value


def _matches(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, UnionType):
        return any(_matches(value, option) for option in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return is_int(value)
    if hint is float:
        return is_number(value)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return isinstance(value, (list, tuple)) and all(_matches(v, args[0]) for v in value)
    return True  # Any, dicts, nested dataclasses: checked by their own code


def _type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return f"a list of {_type_name(args[0])}s"
    names = {bool: "true or false", int: "an integer", float: "a finite number",
             str: "text", type(None): "null"}  # fmt: skip
    return names.get(hint, str(hint))


def check_field_types(config: Any, what: str) -> None:
    """Refuse a dataclass field whose value is not of its declared type: an ``int`` field
    takes a real integer only (``64.0``, ``32.5`` and ``true`` are refused, not rounded), a
    ``float`` field a finite number, a ``bool`` field true or false, ``tuple[int, ...]`` a
    list of integers. Called by configs read from files before any value is used."""
    hints = typing.get_type_hints(type(config))
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        if not _matches(value, hints.get(item.name, Any)):
            raise BrainsynthError(
                f"{what}: {item.name} must be {_type_name(hints[item.name])}, got {brief(value)}"
            )
