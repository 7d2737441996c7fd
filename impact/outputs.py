"""Atomic writing: a file or a whole output folder appears complete or not at all.

Files are written to a temporary sibling and renamed into place (`os.replace` is atomic on
one file system). A bundle folder is assembled in a hidden temporary sibling folder and
renamed into place when complete; if the run fails or is killed, the temporary folder is
removed (or, after a hard kill, left hidden and cleaned up by the next run), and the target
never holds a partial bundle.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import ParameterError

_TMP_MARK = ".impact-tmp-"


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` via a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{_TMP_MARK}", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the file gets the user's usual mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically (see `write_bytes_atomic`)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_directory(target: str | Path, *, overwrite: bool = False, owner: str = "impact") -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces `target`, on any failure it is deleted.

    An existing `target` is an error unless `overwrite` is true, in which case it is replaced
    only once the new folder is complete. Leftover temporary folders of earlier killed runs
    for the same target are removed first.
    """
    target = Path(target).absolute()
    if target.exists() and not overwrite:
        raise ParameterError(
            f"{owner}: output folder {target} already exists; choose another or pass overwrite (--overwrite)"
        )
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}{_TMP_MARK}"
    for stale in parent.glob(prefix + "*"):
        if not _owner_alive(stale.name[len(prefix):]):
            shutil.rmtree(stale, ignore_errors=True)
    prefix += f"{os.getpid()}-"
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; the bundle gets the user's usual mode
    try:
        yield tmp
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=prefix + "old", dir=parent))
            os.replace(target, old / target.name)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _owner_alive(suffix: str) -> bool:
    """Whether the process whose pid starts a temporary folder's suffix is still running."""
    pid_text = suffix.split("-", 1)[0]
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
