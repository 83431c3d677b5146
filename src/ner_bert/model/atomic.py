"""Writing files and whole folders so that a kill leaves the old version or the new one.

Neither ``transformers`` (``save_pretrained`` writes file by file into the target) nor
``huggingface_hub`` writes a folder atomically, so a process killed while saving over a model
folder left a mix of old and new files. Here a folder is written into a hidden sibling
(``.<name>.saving-<pid>-<random>``), flushed to disk and swapped in with one rename: on Linux
``renameat2(RENAME_EXCHANGE)`` exchanges the two folders in one step; elsewhere the old
folder is renamed aside first (a kill between the two renames leaves it beside, as
``.<name>.old-<pid>-<random>``, and the next save of that name reports it).

A manifest (size and SHA-256 of every file) is what lets a loader refuse a folder whose parts
were not written together.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..errors import ModelLoadError

__all__ = [
    "atomic_text_file",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_can_write_beside",
    "file_manifest",
    "staged_folder",
    "verify_manifest",
]

_STAGING = ".saving-"
_ASIDE = ".old-"
_WRITE_CHECK = ".write-check-"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    with atomic_text_file(path) as handle:
        handle.write(text)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    with _atomic_file(path, "wb") as handle:
        handle.write(data)


@contextlib.contextmanager
def atomic_text_file(path: Path) -> Iterator[IO[str]]:
    """A text file to write that appears at ``path`` only when complete (on leaving the
    ``with`` block); an exception or a kill leaves ``path`` as it was."""
    with _atomic_file(path, "w") as handle:
        yield handle


@contextlib.contextmanager
def _atomic_file(path: Path, mode: str) -> Iterator[Any]:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; match open()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield an empty hidden sibling of ``target`` to write into; on success swap it in.

    On an exception (or a kill) ``target`` is untouched and the sibling is removed (after a
    kill, by the next save of the same name).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_siblings(target)
    staging = Path(
        tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}{_STAGING}{os.getpid()}-")
    )
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700 folders; match mkdir()
        yield staging
        _sync_folder(staging)
        _swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # after the swap it holds the old folder


def check_can_write_beside(target: Path) -> None:
    """Create and remove a hidden folder where ``target``'s folder will be written: its
    nearest existing ancestor (tried for real, since permissions alone do not tell, e.g.
    read-only mounts). Named like the staging folders, so a kill in between leaves nothing
    the next save of ``target`` does not remove.

    Raises:
        OSError: the folder cannot be written.
    """
    target = Path(target).absolute()
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    os.rmdir(tempfile.mkdtemp(dir=parent, prefix=f".{target.name}{_WRITE_CHECK}{os.getpid()}-"))


def _swap_in(staging: Path, target: Path) -> None:
    """Put ``staging`` at ``target``; the old ``target`` (if any) ends up at ``staging``."""
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        os.replace(staging, target)  # rename(2) replaces an empty folder in one step
    elif not _exchange(staging, target):
        aside = Path(
            tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}{_ASIDE}{os.getpid()}-")
        )
        os.replace(target, aside)
        os.replace(staging, target)
        os.replace(aside, staging)
    _sync_folder_entry(target.parent)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two folders in one step (Linux ``renameat2``); ``False`` where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    done = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _remove_stale_siblings(target: Path) -> None:
    """Remove the staging, aside and write-check folders of saves to ``target`` killed before
    they finished."""
    for prefix in (_STAGING, _ASIDE, _WRITE_CHECK):
        for sibling in target.parent.glob(f".{glob.escape(target.name)}{prefix}*"):
            pid = sibling.name[len(target.name) + 1 + len(prefix) :].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)) and sibling.is_dir():
                shutil.rmtree(sibling, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _sync_folder(folder: Path) -> None:
    """Flush every file in ``folder`` (and the folder itself) to disk."""
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _sync_folder_entry(folder)


def _sync_folder_entry(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def file_manifest(folder: Path) -> dict[str, dict[str, object]]:
    """Size and SHA-256 of every file in ``folder``, by relative POSIX name."""
    return {
        path.relative_to(folder).as_posix(): {"size": path.stat().st_size, "sha256": _sha256(path)}
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def verify_manifest(folder: Path, manifest: object, *, source: str) -> None:
    """Raise :class:`ModelLoadError` unless every file of ``manifest`` is in ``folder`` as
    written (same size and SHA-256); ``source`` names where the manifest came from."""
    if not isinstance(manifest, dict):
        raise ModelLoadError(f"{source}: 'files' must be an object of file records.")
    for name, record in manifest.items():
        path = folder / name
        if not isinstance(record, dict) or not path.is_file():
            raise ModelLoadError(
                f"{folder}: {name} is missing, though {source} lists it; the folder's parts "
                "were not saved together. Save the model again."
            )
        if path.stat().st_size != record.get("size") or _sha256(path) != record.get("sha256"):
            raise ModelLoadError(
                f"{folder}: {name} is not the file saved with {source} (its size or SHA-256 "
                "differs): the folder mixes parts of different saves. Save the model again, "
                f"or, if you changed {name} on purpose, remove the 'files' entry of {source}."
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
