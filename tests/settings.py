"""The test run's settings: the real settings, read from an environment that points every
file the service writes into a fresh folder, and runs queued tasks inline.

Tests that need real worker processes start them with ``SITTER_QUEUE_SYNC=0`` themselves.
"""

import base64
import os
import secrets
import tempfile

os.environ.setdefault("SITTER_DATA_DIR", tempfile.mkdtemp(prefix="sitter-test-"))
os.environ.setdefault("SITTER_QUEUE_SYNC", "1")
os.environ.setdefault("SITTER_KEK", base64.b64encode(secrets.token_bytes(32)).decode())
# Tests change the queue and look at it again at once; test_eta covers the snapshot's reuse.
os.environ.setdefault("SITTER_ETA_QUEUE_SECONDS", "0")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# No test fetches a static file through the test client, and WhiteNoise's finders would scan
# thousands of them for each new client; an empty collected folder keeps WhiteNoise quiet.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
