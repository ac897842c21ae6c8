"""The Content Security Policy header, built once per process rather than on every response.

django-csp builds the header from the settings for every response, which took a twentieth of
each request to the progress panel that every waiting person polls (``python -m bench.web``).
The header is the same for every response unless a view asks for a nonce or changes the policy
with django-csp's decorators, or the settings change; those responses still go through
django-csp unchanged.
"""

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# What django-csp's decorators set on a response to change or lift its policy.
PER_RESPONSE = (
    "_csp_exempt",
    "_csp_exempt_ro",
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)

# Built whole, then stored: threads of one worker may ask at the same time.
_built = {}


@receiver(setting_changed)
def _forget_policies(setting, **kwargs):
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _built.clear()


def site_policies():
    """(header, value, URL prefixes it is left off) for each header that has a policy, as
    django-csp builds them from the settings."""
    policies = _built.get("policies")
    if policies is None:
        policies = _built["policies"] = tuple(
            (
                header,
                value,
                tuple((getattr(settings, name, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()),
            )
            for header, name, report_only in (
                (HEADER, "CONTENT_SECURITY_POLICY", False),
                (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", True),
            )
            if (value := build_policy(report_only=report_only))
        )
    return policies


class CSPMiddleware(DjangoCSPMiddleware):
    def process_response(self, request, response):
        if (
            settings.DEBUG
            or getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in PER_RESPONSE)
        ):
            return super().process_response(request, response)
        for header, value, excluded in site_policies():
            if header not in response and not request.path_info.startswith(excluded):
                response[header] = value
        # As django-csp does: a nonce asked for after the header is written would not be in it.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
