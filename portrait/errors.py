"""Refusals a person can act on. Views turn them into a 4xx carrying the message."""


class Refused(Exception):
    """A step was refused because of what the person sent or the state they are in."""

    status = 400

    def __init__(self, code, message, *, status=None, reasons=None):
        self.code = code
        self.message = message
        self.reasons = reasons or []
        if status is not None:
            self.status = status
        super().__init__(f"{code}: {message}")

    def as_dict(self):
        body = {"code": self.code, "detail": str(self.message)}
        if self.reasons:
            body["reasons"] = self.reasons
        return body
