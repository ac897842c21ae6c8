"""Rate limits on logging in, uploading and the API, counted in Django's cache.

The cache is shared by every process (the database cache, or Redis where configured), so the
limit holds across gunicorn workers. Each limit is a fixed window: ``SITTER_RATE_<SCOPE>`` of
the form ``N/s``, ``N/m``, ``N/h`` or ``N/d``, or ``off``. Counts are kept under a hash of the
key, so the cache holds no user name or address.
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from rest_framework.throttling import BaseThrottle

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate):
    """``(limit, window seconds)`` of a rate like ``10/m``; None for ``off``."""
    if rate.strip().lower() == "off":
        return None
    try:
        count, period = rate.split("/")
        return int(count), PERIODS[period.strip().lower()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(
            f"a rate limit must look like 10/m (per s, m, h or d) or be off, not {rate!r}"
        ) from None


def client_address(request):
    """The client's address; behind a proxy, the header the operator names
    (``SITTER_CLIENT_IP_HEADER``, e.g. ``HTTP_X_REAL_IP``) that the proxy sets."""
    header = settings.SITTER_CLIENT_IP_HEADER
    if header and request.META.get(header):
        return request.META[header].split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")


def hit(scope, key, cost=1):
    """Count ``cost`` hits of ``key`` against the scope's limit.

    Returns 0 while within it, else the seconds until the window ends.
    """
    rate = parse_rate(settings.SITTER_RATE_LIMITS[scope])
    if rate is None:
        return 0
    limit, window = rate
    now = time.time()
    digest = hashlib.sha256(f"{scope}:{key}".encode()).hexdigest()[:32]
    name = f"ratelimit:{scope}:{digest}:{int(now // window)}"
    cache.add(name, 0, window + 1)
    try:
        count = cache.incr(name, cost)
    except ValueError:  # expired between add and incr
        cache.set(name, cost, window + 1)
        count = cost
    if count <= limit:
        return 0
    return max(1, math.ceil(window - now % window))


def too_many_requests(request, retry_after):
    """The page a person sees when they went over a limit: 429, in their language."""
    response = render(request, "429.html", {"retry_after": retry_after}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def limited_message(retry_after):
    return _("Too many attempts. Please wait %(seconds)s seconds and try again.") % {
        "seconds": retry_after
    }


class ApiRateThrottle(BaseThrottle):
    """The API's limit, per account (per address before logging in)."""

    scope = "api"

    def allow_request(self, request, view):
        user = request.user
        key = (
            f"user:{user.pk}"
            if user and user.is_authenticated
            else (f"ip:{client_address(request)}")
        )
        self.retry_after = hit(self.scope, key)
        return not self.retry_after

    def wait(self):
        return self.retry_after


class LoginRateThrottle(ApiRateThrottle):
    """Getting a token is logging in: the log-in limit, per address and per user name."""

    scope = "login"

    def allow_request(self, request, view):
        # A JSON body may be a list, a number or null: no user name in those.
        data = request.data if isinstance(request.data, dict) else {}
        username = str(data.get("username", "")).strip().lower()
        self.retry_after = max(
            hit(self.scope, f"ip:{client_address(request)}"), hit(self.scope, f"user:{username}")
        )
        return not self.retry_after
