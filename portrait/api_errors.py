"""Turn refusals into 4xx answers with a message a person understands."""

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from consent.gate import ConsentRequired
from consent.services import ConsentError

from .errors import Refused


def exception_handler(exc, context):
    if isinstance(exc, Refused):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, ConsentRequired):
        return Response(
            {"code": "consent_required", "detail": str(exc.message), "purposes": exc.purposes},
            status=403,
        )
    if isinstance(exc, ConsentError):
        return Response({"code": exc.code, "detail": str(exc.message)}, status=400)
    # Django's own limits on a request body, met while the view reads it: without this they
    # would reach the person as the site's HTML error page.
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"code": "request_too_large", "detail": _("The request is too large.")}, status=413
        )
    if isinstance(exc, TooManyFilesSent | TooManyFieldsSent):
        return Response(
            {
                "code": "too_many_parts",
                "detail": _("The request holds too many files or fields: send one at a time."),
            },
            status=400,
        )
    return drf_exception_handler(exc, context)


def not_found(request, exception):
    """The site's 404: the page for people, and JSON under /api/, where an id that is not one
    (so no route matches) must get the same answer as an id that names nothing."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)
