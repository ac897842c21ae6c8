"""Staff log in to the admin as in production: a password and a code from their TOTP device,
computed here the way an authenticator app computes it."""

from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


def totp_code(device):
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def enrol(user):
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def admin_login(client, user, password, device=None):
    """Log ``user`` in through the admin's login form; returns the response (302 when in)."""
    device = device or enrol(user)
    return client.post(
        reverse("admin:login"),
        {
            "username": user.get_username(),
            "password": password,
            "otp_token": totp_code(device),
        },
    )
