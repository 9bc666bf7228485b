"""The one rule for everything brainsynth writes: never touch a file it did not write.

A command writes into a **new** folder, an **empty** one, or a folder **it made itself**,
recognised by the marker file :data:`MARKER` that names the command and lists the entries it
wrote there. Inside its own folder it replaces only those entries; anything else in the way
(a file of the user's with the name of an output, a folder made by another command, a
non-empty folder it did not make) is refused with a one-line error naming the file and the
flag that allows it (``--overwrite``), before any work starts. Even with ``--overwrite`` a
command replaces only the files it writes: it never deletes anything else.

Single output files beside other things (``evaluate --out metrics.json``, ``--grid``,
``--preview``) are checked the same way: a new name is fine, an existing file is replaced
only when the folder's marker says this command wrote it, or with ``--overwrite``.

Every check also asks whether the location can be written (and whether its name is text the
file system and the terminal can carry), so a read-only folder is reported before an hour of
work, not after it. :func:`claim_folder` and :func:`claim_file` run the checks;
:meth:`FolderClaim.install` moves a finished temporary folder into place.

What arrives from elsewhere is not trusted (issue 24):

- A name that comes from data (a class name, a study or sequence name) becomes a path only
  through :func:`inside`, which accepts it only when it already is a safe slug
  (:func:`safe_name`) and proves the path stays in the output folder.
- A marker may list only plain file names of the entries the command itself writes there
  (its :class:`Vocabulary`), each of the kind it writes (file or folder) and none a link:
  anything else makes the command refuse in one line before it deletes or writes anything.
- An output name that is a symbolic link is refused, even the command's own and even with
  ``--overwrite``: nothing is ever written through a link or deleted behind one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from brainsynth.config import write_text_atomic
from brainsynth.errors import BrainsynthError

MARKER = ".brainsynth-owner.json"
"""Written into every folder a command makes; names the command and the entries it wrote."""

OVERWRITE_FLAG = "--overwrite"

Legacy = Callable[[Path], "set[str] | None"]
"""Recognises a folder written by an older brainsynth (no marker): the entries it owns."""

SAFE_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?")
"""A name from data that may name an output: ASCII letters, digits, '.', '_' and '-',
starting with a letter or digit and not ending with '.' (hidden names, '.', '..', separators,
NUL, spaces, shell and Markdown characters, and names Windows would alter are all out)."""

MAX_NAME = 64
"""Characters of a name from data that becomes an output (far below every file system's 255)."""


def safe_name(name: object, what: str) -> str:
    """``name`` itself when it may name one entry of an output folder, else a one-line error.

    The reduction to a slug is the identity or a refusal: a name from data that is not
    already a safe slug (:data:`SAFE_NAME`, at most :data:`MAX_NAME` characters) is refused,
    never rewritten, so the folder a user finds is named exactly like the class in the JSON,
    and no two names can be reduced to the same path. ``what`` says what the name is, e.g.
    ``"class name"``.
    """
    problem = name_problem(name)
    if problem is None:
        return str(name)
    shown_name = repr(name) if len(repr(name)) <= 80 else repr(name)[:77] + "..."
    raise BrainsynthError(
        f"{what} {shown_name} cannot name an output ({problem}); names that become files or "
        f"folders are letters, digits, '.', '_' and '-', at most {MAX_NAME} characters"
    )


def name_problem(name: object) -> str | None:
    """Why ``name`` is no safe slug, or None when it is one."""
    if not isinstance(name, str):
        return "not text"
    if not name:
        return "empty"
    if "\0" in name:
        return "it holds a NUL character"
    if os.path.isabs(name) or name.startswith(("/", "\\")):
        return "an absolute path"
    if name in (".", "..") or "/" in name or "\\" in name:
        return "a path, not a plain name"
    if len(name) > MAX_NAME:
        return f"longer than {MAX_NAME} characters"
    if not SAFE_NAME.fullmatch(name):
        return "it starts with '.', ends with '.' or holds other characters"
    return None


def distinct_names(names: Iterable[object], what: str) -> list[str]:
    """Each of ``names`` checked by :func:`safe_name`, once each, in order of appearance.

    Two different names that would share one path are refused, not disambiguated: names that
    differ only in case (``T1``, ``t1``) are one folder on the case-insensitive file systems
    of macOS and Windows.
    """
    seen: dict[str, str] = {}
    for name in dict.fromkeys(safe_name(n, what) for n in names):
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            raise BrainsynthError(
                f"{what}s {other!r} and {name!r} would name the same output on a "
                "case-insensitive file system; rename one"
            )
    return list(seen.values())


def inside(folder: str | os.PathLike[str], name: object, what: str) -> Path:
    """``folder / name`` for a ``name`` from data, proven to stay inside ``folder``.

    ``name`` must be a safe slug (:func:`safe_name`); the path must not be a symbolic link
    (a class folder ``t2 -> /elsewhere`` would lead the writes out), and with every parent
    resolved it must be a direct child of the resolved ``folder``.
    """
    path = Path(folder) / safe_name(name, what)
    refuse_link(path, "--out")
    if Path(os.path.realpath(path)).parent != Path(os.path.realpath(folder)):
        raise BrainsynthError(f"{shown(path)}: leads outside {shown(folder)}; choose another --out")
    return path


def refuse_link(path: Path, flag: str) -> None:
    """A one-line error when ``path`` is a symbolic link: nothing is written through one."""
    if path.is_symlink():
        raise BrainsynthError(
            f"{shown(path)}: is a symbolic link (to {os.readlink(path)}); brainsynth never "
            f"writes through links: remove it or choose another {flag}"
        )


@dataclass(frozen=True)
class Vocabulary:
    """Every entry a command may write at the top of its folder: what its marker may list.

    ``files`` and ``folders`` are exact names; ``file_pattern`` and ``folder_pattern``
    regular expressions matched in full (``sample``'s numbered PNGs). A name the command
    writes on this run is always known (as a file unless listed as a folder).
    """

    files: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()
    file_pattern: str = ""
    folder_pattern: str = ""

    def kind(self, name: str) -> str | None:
        """``"file"``, ``"folder"`` or None (a name the command never writes)."""
        if name in self.folders or (
            self.folder_pattern and re.fullmatch(self.folder_pattern, name)
        ):
            return "folder"
        if name in self.files or (self.file_pattern and re.fullmatch(self.file_pattern, name)):
            return "file"
        return None


def check_path_text(path: str | os.PathLike[str], flag: str) -> None:
    """Refuse a path that is not valid text (undecodable bytes from the command line).

    Such a name can be created, but not written into ``config.yaml``, JSON or the terminal,
    so a command would fail half-way; it is refused before anything is written.
    """
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise BrainsynthError(
            f"{flag} {shown}: the name is not valid UTF-8 text; choose a plain name"
        ) from None


def shown(path: str | os.PathLike[str]) -> str:
    """``path`` for a message: relative to the working folder when inside it, else absolute.

    Configs store absolute paths (a run resumes from any folder); people read short ones.
    """
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute)
    except ValueError:  # another drive on Windows
        return absolute
    return absolute if relative.startswith("..") else relative


def nearest_existing(path: Path) -> Path:
    """``path`` itself if it exists, else its nearest existing ancestor."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable(folder: str | os.PathLike[str], flag: str, shown_as: str | None = None) -> None:
    """Refuse a folder (existing, or to be created) that this process cannot write into."""
    folder = Path(folder)
    base = nearest_existing(folder)
    label = shown_as or shown(folder)
    if not base.is_dir():
        raise BrainsynthError(f"{flag} {label}: {shown(base)} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        same = base == Path(os.path.abspath(folder))
        where = "" if same else f" ({shown(base)} cannot be written)"
        raise BrainsynthError(
            f"{flag} {label}: folder is not writable{where}; choose another location"
        )


def read_marker(folder: Path) -> dict | None:
    """The marker of ``folder`` (a dict with ``command`` and ``files``), or None.

    ``files`` is as found, unchecked: :func:`owned_entries` decides whether to trust it.
    """
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(marker, dict) or not isinstance(marker.get("command"), str):
        return None
    return marker


def owned_entries(
    folder: Path, marker: dict, flag: str, vocabulary: Vocabulary, writes: Iterable[str] = ()
) -> set[str]:
    """The entries ``marker`` (the command's own, in ``folder``) says the command wrote.

    Trusted only when every one is a plain file name that the command writes there
    (``vocabulary`` or this run's ``writes``), of the kind it writes (a folder only where
    it writes a folder), and no link; otherwise a one-line error before anything is deleted.
    """
    command = marker["command"]
    path = folder / MARKER

    def refuse(reason: str, entry: object = None) -> BrainsynthError:
        what = "" if entry is None else f"lists {entry!r}, "
        return BrainsynthError(
            f"{shown(path)}: {what}{reason}; the marker is not trusted and nothing was "
            f"deleted: remove it or choose another {flag}"
        )

    if path.is_symlink():
        raise refuse("is a symbolic link")
    files = marker.get("files", [])
    if not isinstance(files, list):
        raise refuse("'files' is not a list of file names")
    writes = set(writes)
    for entry in files:
        problem = plain_name_problem(entry)
        if problem is not None:
            raise refuse(problem, entry)
        kind = vocabulary.kind(entry) or ("file" if entry in writes else None)
        if kind is None:
            raise refuse(f"a name 'brainsynth {command}' never writes", entry)
        refuse_link(folder / entry, flag)
        found = entry_kind(folder / entry)
        if found not in (None, kind):
            raise refuse(f"a {found} where 'brainsynth {command}' writes a {kind}", entry)
    return set(files)


def plain_name_problem(name: object) -> str | None:
    """Why ``name`` is no plain file name of an entry directly in a folder, or None."""
    if not isinstance(name, str) or not name or name == MARKER:
        return "not a file name"
    if "\0" in name:
        return "not a file name (it holds a NUL character)"
    if os.path.isabs(name) or name.startswith(("/", "\\")):
        return "an absolute path"
    if name in (".", "..") or "/" in name or "\\" in name:
        return "a path, not a plain file name"
    if len(name.encode("utf-8", "surrogatepass")) > 255:
        return "not a file name (longer than 255 bytes)"
    return None


def entry_kind(path: Path) -> str | None:
    """``"file"``, ``"folder"``, ``"link"``, ``"special file"`` or None (nothing there)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:  # nothing there, or nothing this process may see
        return None
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "folder"
    return "file" if stat.S_ISREG(mode) else "special file"


def write_marker(folder: Path, command: str, files: Iterable[str]) -> None:
    from brainsynth import __version__

    record = {
        "note": f"written by 'brainsynth {command}', which may replace only the files listed here",
        "command": command,
        "brainsynth_version": __version__,
        "files": sorted(set(files) - {MARKER}),
    }
    write_text_atomic(folder / MARKER, json.dumps(record, indent=2) + "\n")


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != MARKER)


def refusal(path: Path | str, reason: str, flag: str, overwrite_ok: bool = True) -> BrainsynthError:
    """The one-line refusal: the file in the way, why, and the flag that allows it."""
    hint = f"choose another {flag}"
    if overwrite_ok:
        hint += f" or pass {OVERWRITE_FLAG}"
    return BrainsynthError(f"{shown(path)}: {reason}; {hint}")


@dataclass
class FolderClaim:
    """Where a command may write, decided by :func:`claim_folder` or :func:`claim_files`.

    ``owned``: the entries this command wrote there before (it may replace them).
    ``shared``: a folder the command did not make (the working folder of ``--out
    metrics.json``): it writes only new names there (or with ``--overwrite``) and leaves no
    marker. ``vocabulary``: every entry the command may write there (see :class:`Vocabulary`).
    """

    folder: Path
    command: str
    flag: str
    owned: set[str] = field(default_factory=set)
    overwrite: bool = False
    shared: bool = False
    vocabulary: Vocabulary = field(default_factory=Vocabulary)

    def begin(self, names: Iterable[str]) -> None:
        """Create the folder and record ``names`` as this command's before writing them.

        The marker lists them first, so an interrupted command leaves a folder that the next
        run recognises as its own.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.shared:
            self.owned |= set(names)
            write_marker(self.folder, self.command, self.owned)

    def finish(self, names: Iterable[str]) -> None:
        """Record exactly ``names`` as the command's, removing its own stale files.

        Entries the command wrote on an earlier run but not this time (``000007.png`` of a
        larger sample) are deleted: they are the command's, and leaving them would mix two
        runs. Nothing it did not write is touched, and a stale entry that is not of the kind
        the command writes (a link, or a folder where it writes a file) is left alone.
        """
        if self.shared:
            return
        names = set(names)
        for stale in sorted(self.owned - names):
            remove_entry(self.folder / stale, self.vocabulary.kind(stale) == "folder")
        self.owned = names
        write_marker(self.folder, self.command, names)

    def scratch(self) -> Path:
        """A fresh hidden temporary folder to build the output in, on the same file system.

        Beside a folder that does not exist yet (renamed into place at the end), inside one
        that does (so nothing outside the folder the user named is written).
        """
        parent = self.folder if self.folder.exists() else self.folder.parent
        tmp = parent / f".{self.folder.name}.partial-{os.getpid()}"
        clear(tmp)
        tmp.mkdir(parents=True)
        return tmp

    def install(self, tmp: Path, last: Iterable[str] = ()) -> Path:
        """Move the entries of the finished temporary folder ``tmp`` into place.

        A new or empty folder becomes ``tmp`` by one rename. In a folder of this command's the
        owned entries are replaced (``last`` moved in last: the file that makes the folder
        look complete) and every other entry stays as it was, byte for byte.
        """
        new = sorted(p.name for p in tmp.iterdir() if p.name != MARKER)
        late = [name for name in last if name in new]
        order = [n for n in new if n not in late] + late
        if self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()
        if not self.folder.exists():
            write_marker(tmp, self.command, new)
            tmp.rename(self.folder)
            self.owned = set(new)
            return self.folder
        in_the_way = [n for n in new if exists(self.folder / n) and n not in self.owned]
        if in_the_way and not self.overwrite:
            raise refusal(
                self.folder / in_the_way[0],
                f"exists and was not written by 'brainsynth {self.command}'",
                self.flag,
            )
        write_marker(self.folder, self.command, self.owned | set(new))
        trash = self.folder / f".brainsynth-old-{os.getpid()}"
        clear(trash)
        trash.mkdir()
        for name in sorted(self.owned | set(in_the_way)):
            if exists(self.folder / name):
                (self.folder / name).rename(trash / name)
        for name in order:
            (tmp / name).rename(self.folder / name)
        write_marker(self.folder, self.command, new)
        self.owned = set(new)
        shutil.rmtree(trash, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
        return self.folder


def exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def clear(path: Path) -> None:
    """Remove a leftover temporary entry of this process: a link itself, never its target."""
    if entry_kind(path) == "folder":
        shutil.rmtree(path, ignore_errors=True)
    elif entry_kind(path) is not None:
        path.unlink()


def remove_entry(path: Path, folder: bool = False) -> None:
    """Delete the regular file ``path`` (or, when ``folder``, the real folder ``path``).

    A link, a special file, or a folder where a file was expected stays: never is a link's
    target, or anything behind one, deleted.
    """
    kind = entry_kind(path)
    if kind == "file":
        path.unlink()
    elif kind == "folder" and folder:
        shutil.rmtree(path)


def in_the_way(claim: FolderClaim, names: Iterable[str]) -> None:
    """Refuse the first of ``names`` that is a link in the claimed folder (always), or that
    exists there and is not owned (unless ``--overwrite``)."""
    if not claim.folder.is_dir():
        return
    names = list(names)
    for name in names:
        refuse_link(claim.folder / name, claim.flag)
    if claim.overwrite:
        return
    for name in names:
        if exists(claim.folder / name) and name not in claim.owned:
            raise refusal(
                claim.folder / name,
                f"exists and was not written by 'brainsynth {claim.command}'",
                claim.flag,
            )


def claim_folder(
    folder: str | os.PathLike[str],
    command: str,
    flag: str,
    writes: Iterable[str] = (),
    overwrite: bool = False,
    legacy: Legacy | None = None,
    vocabulary: Vocabulary | None = None,
) -> FolderClaim:
    """Check, before any work, that ``command`` may make ``folder`` its output folder.

    Allowed: a folder that does not exist (the nearest existing parent must be writable), an
    empty folder, or one with this command's marker (or recognised by ``legacy``) where none
    of ``writes`` (the top-level names the command will write) belongs to someone else or is
    a link. With ``overwrite`` a foreign folder is written into too, still replacing only
    ``writes``. ``vocabulary``: every entry the command ever writes there, which its marker
    may list (default: ``writes``, all files); a marker listing anything else is refused.
    """
    check_path_text(folder, flag)
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise refusal(path, "exists and is not a folder", flag, overwrite_ok=False)
    writes = list(writes)
    vocabulary = vocabulary or Vocabulary(files=tuple(writes))
    claim = FolderClaim(path, command, flag, overwrite=overwrite, vocabulary=vocabulary)
    if path.is_dir():
        marker = read_marker(path)
        present = entries(path)
        old = legacy(path) if marker is None and legacy is not None else None
        if marker is not None and marker["command"] == command:
            claim.owned = owned_entries(path, marker, flag, vocabulary, writes)
        elif old is not None:
            claim.owned = set(old)
        elif present and not overwrite:
            if marker is not None:
                reason = f"was made by 'brainsynth {marker['command']}', not '{command}'"
            else:
                listed = ", ".join(present[:3]) + (", ..." if len(present) > 3 else "")
                reason = f"exists and holds files 'brainsynth {command}' did not write ({listed})"
            raise refusal(path, reason, flag)
    in_the_way(claim, writes)
    check_writable(path, flag)
    return claim


def claim_files(
    folder: str | os.PathLike[str],
    names: Iterable[str],
    command: str,
    flag: str,
    overwrite: bool = False,
    shown_as: str | None = None,
    vocabulary: Vocabulary | None = None,
) -> FolderClaim:
    """Check, before any work, that ``command`` may write the files ``names`` into ``folder``.

    A folder that does not exist becomes the command's own (with a marker, so a second run
    may replace its files); in a folder with the command's marker, files it wrote are
    replaced; in any other folder the names must be new, unless ``overwrite``. A link among
    ``names`` is always refused; ``vocabulary`` as for :func:`claim_folder`.
    """
    names = list(names)
    check_path_text(folder, flag)
    path = Path(folder)
    marker = read_marker(path) if path.is_dir() else None
    vocabulary = vocabulary or Vocabulary(files=tuple(names))
    claim = FolderClaim(path, command, flag, overwrite=overwrite, vocabulary=vocabulary)
    if marker is not None and marker["command"] == command:
        claim.owned = owned_entries(path, marker, flag, vocabulary, names)
    elif path.is_dir():
        claim.shared = True
    in_the_way(claim, names)
    check_writable(path, flag, shown_as=shown_as)
    return claim


def claim_file(
    file: str | os.PathLike[str],
    command: str,
    flag: str,
    overwrite: bool = False,
    within: FolderClaim | None = None,
    vocabulary: Vocabulary | None = None,
) -> FolderClaim | None:
    """Check, before any work, that ``command`` may write the single file ``file``.

    When ``file`` lies in ``within`` (the command's own output folder) it is checked against
    that claim and None is returned (the caller adds its name to the folder's files);
    otherwise see :func:`claim_files`.
    """
    check_path_text(file, flag)
    path = Path(file)
    if path.is_dir():
        raise BrainsynthError(
            f"{flag} {path}: is a folder; give a file name, e.g. {path / default_name(flag)}"
        )
    if path.name in ("", ".", ".."):
        raise BrainsynthError(f"{flag} {path}: give a file name")
    if within is not None and same_folder(path.parent, within.folder):
        in_the_way(within, [path.name])
        return None
    return claim_files(path.parent, [path.name], command, flag, overwrite, shown(path), vocabulary)


def same_folder(a: Path, b: Path) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)


def default_name(flag: str) -> str:
    return {"--out": "metrics.json", "--grid": "grid.png", "--preview": "preview.png"}.get(
        flag, "output"
    )
