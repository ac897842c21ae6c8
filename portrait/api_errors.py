"""Turn refusals into 4xx answers with a message a person understands."""

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
    return drf_exception_handler(exc, context)
