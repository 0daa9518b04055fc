"""The publish protocol of every cxlab output folder (report batches and driver studies): one
rule for file names, one writer, one lock, one staging-then-commit step.

    folder = check_output_folder(Path(out) / period)     # clear error before any kernel starts
    with Publication(folder) as pub:                     # lock; empty staging folder
        ... write every new file under pub.staging ...
        pub.commit(files, remove, manifest_text, index_text)

- **Lock.** ``<parent>/.<folder>.lock`` is held with ``fcntl.flock`` for the whole run (the
  kernel releases it when the process dies, even on kill -9); a second run on the same folder
  gets a :class:`~cxlab.checks.CXDataError` naming the holder (pid, host, start, command). The
  lock file is removed at the end.
- **Staging.** New files are written into ``<parent>/.<folder>.staging-<pid>`` (same file
  system), never into the published folder. A run that is killed, fails or fills the disk leaves
  the published folder exactly as it was; the next run removes the stale staging folder.
- **Commit.** The manifest and the index are written into staging first (so a full disk stops
  the run before anything is published); then each new file is renamed into place
  (``os.replace``: atomic per file), files no longer listed are removed, and the manifest and
  the index are renamed last. Renames need no disk space, so a commit does not fail half-way
  for lack of it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from ..checks import CXDataError

__all__ = ["Publication", "atomic_write", "check_output_folder", "environment_error", "slug"]

#: Characters of the readable part of a slug (before the hash): long labels are cut here.
SLUG_READABLE = 40
_CANONICAL = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_HASHED_TAIL = re.compile(r"-[0-9a-f]{10}$")


def slug(text) -> str:
    """The file-name part for a label: unique per exact label, readable, short, lowercase.

    Rule: the label is NFC-normalised; a label that already is a short lowercase ASCII slug
    (``region``, ``north-east``) is its own slug; any other label becomes its readable part
    (Unicode letters and digits of any script kept, lowercased, other runs -> ``-``, cut to
    :data:`SLUG_READABLE` characters) plus ``-`` and the first 10 hex digits of the SHA-256 of
    the exact NFC label. So ``North East``, ``North-East`` and ``north east`` get three files;
    ``Москва`` stays readable (``москва-…``) instead of transliterated (transliteration needs a
    language: Ukrainian and Russian spell the same letters differently, and a library this
    package does not otherwise need); the NFC and NFD spellings of ``Łódź`` get one file; a
    300-character label fits a file name (at most ~170 bytes). Lowercase only, so two slugs
    never differ only in case (case-insensitive file systems).

    Examples
    --------
    >>> slug("region")
    'region'
    >>> slug("North East") != slug("north east")
    True
    """
    label = unicodedata.normalize("NFC", str(text))
    if _CANONICAL.match(label) and len(label) <= SLUG_READABLE and not _HASHED_TAIL.search(label):
        return label
    readable = re.sub(r"[\W_]+", "-", label).strip("-").lower()[:SLUG_READABLE].strip("-")
    digest = hashlib.sha256(label.encode("utf-8")).hexdigest()[:10]
    return f"{readable or 'x'}-{digest}"


def atomic_write(path: str | os.PathLike, content: str | bytes) -> Path:
    """Write ``content`` to a temporary file beside ``path``, fsync it and rename it into place.

    Readers see either the old file or the complete new one, never a half-written file
    (os.replace is atomic on POSIX and Windows within one file system).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def environment_error(text: str | None) -> bool:
    """True when a report's error text says the disk or folder failed (full, read-only, ...)."""
    if not text:
        return False
    return any(os.strerror(e) in text for e in (errno.ENOSPC, errno.EROFS, errno.EDQUOT))


def check_output_folder(folder: str | os.PathLike) -> Path:
    """``folder`` resolved, created if needed and proven writable (a probe file is written and
    removed); a :class:`CXDataError` with the fix otherwise (a file in the way, read-only, full).
    """
    folder = Path(folder).expanduser().absolute()
    for part in (folder, *folder.parents):
        if part.exists() and not part.is_dir():
            raise CXDataError(f"The output folder {str(folder)!r} cannot be created: "
                              f"{str(part)!r} is a file. Give --out a folder (new or existing), "
                              "e.g. --out reports.")
        if part.exists():
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder.parent / f".{folder.name}.probe-{os.getpid()}"
        probe.write_bytes(b"cxlab")
        probe.unlink()
    except OSError as err:
        raise CXDataError(f"The output folder {str(folder)!r} is not writable "
                          f"({err.strerror or err}). Give --out a folder you can write to, or "
                          "fix its permissions / free disk space; nothing was run.") from None
    return folder


class Publication:
    """Lock ``folder``, stage the new files, publish them as a whole (see the module text)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.lock_path = self.folder.parent / f".{self.folder.name}.lock"
        self.staging = self.folder.parent / f".{self.folder.name}.staging-{os.getpid()}"
        self._handle = None

    # -- lock ---------------------------------------------------------------------------------
    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory lock, staging still holds
            return
        for _ in range(10):
            handle = open(self.lock_path, "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise CXDataError(
                    f"Another cxlab run is publishing into {str(self.folder)!r}: {holder} "
                    f"(lock {str(self.lock_path)!r}). Wait for it to finish, or give another "
                    "--out. The lock ends with that process, even if it is killed.") from None
            try:
                same = os.fstat(handle.fileno()).st_ino == os.stat(self.lock_path).st_ino
            except FileNotFoundError:
                same = False
            if same:        # not a lock file the previous holder removed meanwhile
                self._handle = handle
                handle.seek(0)
                handle.truncate()
                handle.write(f"pid {os.getpid()} on {socket.gethostname()}, started "
                             f"{_now()}, command {' '.join(map(str, sys.argv))[:300]!r}")
                handle.flush()
                return
            handle.close()
        raise CXDataError(f"Could not lock {str(self.lock_path)!r}; try again.")

    def _unlock(self) -> None:
        if self._handle is None:
            return
        import fcntl
        try:
            self.lock_path.unlink()
        except OSError:
            pass
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()
        self._handle = None

    def __enter__(self) -> Publication:
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            for stale in self.folder.parent.glob(f".{self.folder.name}.staging-*"):
                shutil.rmtree(stale, ignore_errors=True)     # a killed run's leftovers
            (self.staging / "notebooks").mkdir(parents=True)
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, *exc) -> bool:
        try:
            shutil.rmtree(self.staging, ignore_errors=True)
        finally:
            self._unlock()
        return False

    # -- reading and committing ---------------------------------------------------------------
    def previous(self, name: str = "manifest.json") -> dict:
        """The published manifest (empty dict when there is none or it is unreadable)."""
        try:
            return json.loads((self.folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def commit(self, files: Iterable[str], remove: Iterable[str], last: dict[str, str],
               analyst: tuple[Path, str] | None = None) -> None:
        """Publish: ``last`` (name -> text: the manifest, then the index) is written into
        staging first; then every staged file in ``files`` (paths relative to the folder) is
        renamed into place, ``remove`` is deleted, and ``last`` is renamed in, in order.
        ``analyst`` (path, text) is written beside the folder, outside what stakeholders see."""
        try:
            for name, text in last.items():
                atomic_write(self.staging / name, text)
            if analyst is not None:
                atomic_write(*analyst)
        except OSError as err:
            raise CXDataError(
                f"Could not write the publication ({err.strerror or err}): nothing was "
                f"published and {str(self.folder)!r} is as before. Free disk space (or fix the "
                "folder's permissions) and run again.") from None
        self.folder.mkdir(parents=True, exist_ok=True)
        for rel in files:
            source = self.staging / rel
            if source.exists():
                (self.folder / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, self.folder / rel)
        for rel in remove:
            target = self.folder / rel
            if target.is_file():
                target.unlink()
        for name in last:
            os.replace(self.staging / name, self.folder / name)


def _now() -> str:
    import datetime as dt
    return dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds")
