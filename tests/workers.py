"""Worker identities of real processes of this host, for a job's ``worker``."""

import contextlib
import subprocess
import sys

from portrait.liveness import worker_identity


@contextlib.contextmanager
def live_worker():
    """The identity of a process that runs until the block ends."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        yield worker_identity(process.pid)
    finally:
        process.kill()
        process.wait()


def gone_worker():
    """The identity of a process that has been killed since."""
    with live_worker() as identity:
        pass
    return identity
