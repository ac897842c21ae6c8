"""Secret key files that the service creates on first start (0600, never overwritten)."""

import os
import secrets
from pathlib import Path


def ensure_key_file(path, nbytes=32):
    """Return the bytes of the key file at ``path``, creating it with random bytes if absent.

    Creation is exclusive, so two processes starting at once agree on one key.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(nbytes))
    return path.read_bytes()
