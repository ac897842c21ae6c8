"""Gunicorn's settings for the site, as ``sitter_run`` serves it and ``python -m bench.web``
measures it (``gunicorn -c python:config.gunicorn``); a command line's options win over these.

Threads (gunicorn's gthread worker) let a worker hold connections that send nothing yet, as
browsers open them ahead of time, without stopping; a single-threaded (sync) worker would wait
on such a connection until it timed out. Behind a proxy that buffers requests, as nginx does,
no connection reaches gunicorn before its request has, and single-threaded workers answer the
progress panels' polls fastest and most evenly (``python -m bench.web``).
"""

import os

workers = int(os.environ.get("SITTER_WEB_WORKERS", "2"))
threads = int(os.environ.get("SITTER_WEB_THREADS", "4"))
accesslog = "-"
graceful_timeout = 10
