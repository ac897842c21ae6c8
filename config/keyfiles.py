"""Secret key files: created on first start (0600, never overwritten), read through a cache
that notices when a file is replaced or rewritten."""

import contextlib
import os
import secrets
import tempfile
import time
from pathlib import Path

# A file's timestamps tick coarsely (a few ms on Linux, 2 s on FAT), so a file rewritten in
# place twice within one tick, at the same size, keeps its stat signature. Like git's "racily
# clean" index entries, a read of a file changed that recently is therefore not cached.
SETTLE_SECONDS = 2
_cache = {}


def ensure_key_file(path, nbytes=32):
    """Return the bytes of the key file at ``path``, creating it with random bytes if absent.

    The key is written whole to a temporary file in the same folder, then linked to ``path``:
    the link is exclusive, so two processes starting at once agree on one key, and a reader
    never sees a half-written file.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:  # mkstemp creates it 0600
                handle.write(secrets.token_bytes(nbytes))
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return path.read_bytes()


def _signature(stat):
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def read_key_file(path):
    """The bytes of the key file at ``path``; FileNotFoundError if there is none.

    A process keeps what it read and checks the file with one stat per call: a file renamed
    over it (a new inode) or rewritten (new times) is read again, so a rotated key is picked
    up at once, without a restart.
    """
    path = os.fspath(path)
    try:
        signature = _signature(os.stat(path))
    except FileNotFoundError:
        _cache.pop(path, None)  # a deleted (retired) key is not kept in memory either
        raise
    cached = _cache.get(path)
    if cached is not None and cached[0] == signature:
        return cached[1]
    with open(path, "rb") as handle:
        # The signature of the very file read, not of whatever the path named a moment ago.
        stat = os.fstat(handle.fileno())
        data = handle.read()
    if time.time_ns() - stat.st_ctime_ns > SETTLE_SECONDS * 1_000_000_000:
        _cache[path] = (_signature(stat), data)
    else:
        _cache.pop(path, None)
    return data
