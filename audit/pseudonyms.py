"""Pseudonymous ids for the audit log: an HMAC of a real id under a server key.

The same id always maps to the same pseudonym, so an officer can follow one person's events,
but the log alone never says who that person is.
"""

import functools
import hashlib
import hmac

from django.conf import settings

from config.keyfiles import ensure_key_file


@functools.cache
def _key(path):
    return ensure_key_file(path)


def pseudonym(namespace, value):
    key = _key(str(settings.SITTER_PSEUDONYM_KEY_FILE))
    message = f"{namespace}:{value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def actor_id(user):
    return pseudonym("user", user.pk) if user is not None else ""
