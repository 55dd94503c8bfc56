"""Atomic file writes: a temp file in the same folder, flushed and fsynced, then renamed.

A reader (or a resumed sweep) therefore sees either the old file or the whole new one,
never a partial write, even if the process is killed mid-write.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import secrets
import stat
import sys
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

import numpy as np

__all__ = ["atomic_create", "atomic_create_json", "atomic_write", "atomic_write_json", "probe_writable",
           "remove_stale_temp_files", "to_plain"]

STALE_TEMP_SECONDS = 3600


# Temp files being written or not yet renamed, for :func:`remove_temp_files` (an exit that
# skips the writers' own clean-up: os._exit on Ctrl-C).
_LIVE_TEMPS: set[str] = set()


def remove_temp_files() -> None:
    """Deletes the temp files this process's writers have open now (best effort), before an
    exit that skips their own clean-up (``os._exit``): no ``.tmp-*`` litter is left."""
    for tmp in list(_LIVE_TEMPS):
        try:
            os.unlink(tmp)
        except OSError:
            pass
        _LIVE_TEMPS.discard(tmp)


def remove_stale_temp_files(folder: str) -> int:
    """Deletes the temp files in ``folder`` that a killed writer left (a SIGKILL skips every
    clean-up) and that are untouched for ``STALE_TEMP_SECONDS`` (an hour), so that a file another
    process is writing there right now is never pulled from under it. Only toyscale's own names
    (``.tmp-<16 hex digits>-<name>``); one it cannot remove (a folder, another user's) is left. Returns how
    many it deleted; a missing folder has none."""
    now, removed = time.time(), 0
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for name in names:
        if not _OWN_TEMP.match(name):  # (only the names _write_temp gives: ".tmp-notes.txt" is someone's file)
            continue
        path = os.path.join(folder, name)
        try:
            if now - os.path.getmtime(path) > STALE_TEMP_SECONDS:
                os.unlink(path)
                removed += 1
        except OSError:  # renamed or removed meanwhile by its writer, a folder, or not ours to remove: left
            pass
    return removed


# the names _write_temp gives its temp files: ".tmp-" and 16 hex digits, then "-" and the target's name
_OWN_TEMP = re.compile(r"\.tmp-[0-9a-f]{16}-")


def exit_interrupted(message: str) -> None:
    """The exit on Ctrl-C of the command line and the experiment scripts: standard output
    flushed, ``message`` on standard error, then exit status 130 at once (``os._exit``, not
    the interpreter's shutdown, which waits for a computation JAX still runs: an interrupted
    script sat 130 s until its chunk was done, and now and then crashed tearing JAX down, exit
    status 139). Nothing is lost: every file is written atomically, and the temp files of
    writes under way are deleted first (:func:`remove_temp_files`)."""
    remove_temp_files()
    for stream, text in ((sys.stdout, ""), (sys.stderr, message + "\n")):
        try:
            if stream is not None:  # (None when the program started with it closed, >&-)
                stream.write(text)
                stream.flush()
        except (OSError, ValueError):  # (a closed pipe or stream)
            pass
    os._exit(130)


def _write_temp(path: str, write: Callable[[IO[bytes]], Any]) -> str:
    """Writes a flushed and fsynced temp file beside ``path``; returns its name.

    Opened with mode 0o666, so the process's umask applies as for any new file (``mkstemp``
    would make it owner-only, unreadable to the other users of a shared folder); where
    ``path`` exists, the temp file takes its permissions (a 0o600 file stayed 0o600 only until
    rewritten). The temp name holds at most the first 100 bytes of ``path``'s name, so a
    name of up to 255 bytes that the file system allows can be written (the full name plus the
    22-byte prefix had been refused as too long).
    """
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    while True:
        short = os.fsencode(os.path.basename(path))[:100].decode("utf-8", "ignore")  # (bytes count, not characters)
        tmp = os.path.join(folder, f".tmp-{secrets.token_hex(8)}-{short}")
        _LIVE_TEMPS.add(tmp)  # (before it exists: an exit in between finds nothing to delete)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            _LIVE_TEMPS.discard(tmp)
            continue
        except BaseException:
            _LIVE_TEMPS.discard(tmp)
            raise
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                mode = stat.S_IMODE(os.stat(path).st_mode)
            except OSError:
                mode = None  # (a new file: the umask's)
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(tmp)
        _LIVE_TEMPS.discard(tmp)
        raise
    return tmp


def probe_writable(folder: str) -> None:
    """Writes a temp file into ``folder`` (made if missing) and removes it: an OSError where
    the folder cannot be written (read-only, full, not ours), before work that would write there."""
    tmp = _write_temp(os.path.join(folder, "probe"), lambda f: None)
    try:
        os.unlink(tmp)
    finally:
        _LIVE_TEMPS.discard(tmp)


def _own_descriptor(path: str) -> int | None:
    """The file descriptor of this process that ``path`` names (``/dev/stdout``, ``/dev/stderr``,
    ``/dev/fd/N``, ``/proc/self/fd/N``), or None."""
    full = os.path.abspath(path)
    named = {"/dev/stdout": 1, "/dev/stderr": 2}.get(full)
    if named is not None:
        return named
    hit = re.fullmatch(rf"/dev/fd/(\d+)|/proc/(?:self|{os.getpid()})/fd/(\d+)", full)
    return None if hit is None else int(hit.group(1) or hit.group(2))


def _a_stream(path: str) -> bool:
    """Whether ``path`` names a stream to write into, not a file to replace: another process's
    open file descriptor (``/proc/PID/fd/N``) or an existing FIFO or device."""
    if re.match(r"/proc/[^/]+/fd/", os.path.abspath(path)):
        return True
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode) or stat.S_ISCHR(os.stat(path).st_mode)
    except OSError:
        return False


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> None:
    """Calls ``write(f)`` on a binary temp file, then renames it over ``path``; a ``path``
    that is a symbolic link is written through (its target replaced, the link kept), as
    ``open(path, "w")`` would. This process's own descriptors (``/dev/stdout``, ``/dev/fd/N``)
    are written through, at their position and after what Python has buffered for them, and a
    FIFO or a device is written into: a rename had replaced the shell's ``>>`` file behind
    ``/dev/stdout``, a FIFO and a device with regular files (and reopening ``/dev/stdout``
    would have written over the process's own output under ``>``)."""
    path = os.fspath(path)
    fd = _own_descriptor(path)
    if fd is not None:
        for stream in (sys.stdout, sys.stderr):  # (what this process printed comes first)
            if stream is not None and not stream.closed:
                stream.flush()
        with os.fdopen(os.dup(fd), "wb") as f:
            write(f)
        return
    if _a_stream(path):
        with open(path, "ab") as f:
            write(f)
        return
    if os.path.islink(path):
        path = os.path.realpath(path)
    tmp = _write_temp(path, write)
    try:
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        _LIVE_TEMPS.discard(tmp)
    _sync_folder(path)


def _sync_folder(path: str) -> None:
    """fsyncs the folder holding ``path``, so that its new name survives a power loss too."""
    try:
        fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # not every file system can sync a folder
        pass
    finally:
        os.close(fd)


# What os.link raises where the file system has no hard links (some FUSE, SMB, FAT mounts).
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EXDEV, errno.EMLINK}


def atomic_create(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> bool:
    """Like :func:`atomic_write`, but only if ``path`` does not exist yet.

    The whole file appears in one step (a hard link to the written temp file), so of several
    processes creating the same path at once exactly one succeeds. Returns whether this call
    created it. On a file system without hard links it falls back to a check, then a rename.
    """
    path = os.fspath(path)
    tmp = _write_temp(path, write)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as e:
            if e.errno not in _NO_HARD_LINKS:
                raise
            if os.path.exists(path):
                return False
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        _LIVE_TEMPS.discard(tmp)
    _sync_folder(path)
    return True


def to_plain(obj: Any, *, strict: bool = False) -> Any:
    """numpy arrays and scalars as Python lists and numbers, exactly (``str()`` would elide a
    long array's middle and round its values), through mappings, lists and tuples; so are
    other arrays (JAX's: anything with ``__array__``) and a mapping's numpy scalar keys
    (``np.int64(8)``, which json refuses as a key). With ``strict``, NaN and infinities become
    ``None``: strict JSON has no spelling for them."""
    if not isinstance(obj, (np.ndarray, np.generic, Mapping, list, tuple, str, bytes)) and hasattr(obj, "__array__"):
        obj = np.asarray(obj)  # (a JAX array: json had refused it, "Object of type ArrayImpl is not JSON serializable")
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    elif isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if not strict or math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k.item() if isinstance(k, np.generic) else k: to_plain(v, strict=strict) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v, strict=strict) for v in obj]
    return obj


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(to_plain(obj, strict=True), indent=1, sort_keys=True, allow_nan=False).encode()


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Writes ``obj`` as indented, strict JSON (non-finite numbers as null), atomically."""
    text = _json_bytes(obj)
    atomic_write(path, lambda f: f.write(text))


def atomic_create_json(path: str | os.PathLike, obj: Any) -> bool:
    """:func:`atomic_write_json` through :func:`atomic_create`: only if ``path`` is absent."""
    text = _json_bytes(obj)
    return atomic_create(path, lambda f: f.write(text))
