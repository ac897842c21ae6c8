"""Secret key files that the service creates on first start (0600, never overwritten)."""

import contextlib
import os
import secrets
import tempfile
from pathlib import Path


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
