"""The API schema's refusals. drf-spectacular describes what a view answers when it succeeds;
this schema class adds what every view answers when it refuses (a 4xx and its JSON body), so a
client, and the schemathesis test that checks every answer against the schema, know each status
the API can give.

Which refusals an operation can give follows from the view: a body or parameters can be
invalid (400), a login can be missing (401), consent can be missing (403), an id can name
nothing of the caller's (404), a multipart body can be too large (413), any body can come in a
type the view does not parse (415), and every view is rate-limited (429). A view adds its own
(409, 422) with ``@extend_schema``; a refusal it declares without a body gets the error body.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny

from consent.gate import HasConsent

from .serializers import ReasonSerializer


class ErrorSerializer(serializers.Serializer):
    """A refusal: a stable code (for most) and a message in the caller's language."""

    code = serializers.CharField(
        required=False, help_text=_("A stable code of the reason, e.g. not_an_image.")
    )
    detail = serializers.CharField(help_text=_("What went wrong, in the caller's language."))
    reasons = ReasonSerializer(many=True, required=False)
    purposes = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text=_("The consent purposes that are missing."),
    )


# DRF's answer to a body that does not validate: each field's messages (nested for a
# dictionary field), or "non_field_errors".
VALIDATION_ERRORS = {
    "type": "object",
    "description": _("The messages of each field that is not valid."),
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}]
    },
}

REFUSALS = {
    400: _("The request is not valid: see the message, or each field's messages."),
    401: _("No valid token (or session) was sent."),
    403: _("A consent this needs is missing: see purposes."),
    404: _("There is no such object of yours."),
    413: _("The request is over the upload size limit."),
    415: _("The body is not in a type this operation accepts."),
    429: _("Too many requests: wait for the seconds in Retry-After."),
}


class AutoSchema(SpectacularAutoSchema):
    def _refusals(self):
        permissions = self.view.get_permissions()
        body = self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer()
        statuses = set()
        if body:
            statuses.add(400)
        if not all(isinstance(permission, AllowAny) for permission in permissions):
            statuses.add(401)
        if any(isinstance(permission, HasConsent) for permission in permissions):
            statuses.add(403)
        if "{" in self.path:
            statuses.add(404)
        if body:
            statuses.add(415)
            if any(issubclass(parser, MultiPartParser) for parser in self.view.parser_classes):
                statuses.add(413)
        if self.view.get_throttles():
            statuses.add(429)
        return statuses

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in self._refusals():
            responses.setdefault(str(status), {"description": REFUSALS[status]})
        error = self.resolve_serializer(ErrorSerializer, direction).ref
        for status, response in responses.items():
            if int(status) >= 400 and not response.get("content"):
                schema = {"oneOf": [error, VALIDATION_ERRORS]} if status == "400" else error
                response["content"] = {"application/json": {"schema": schema}}
        return responses
