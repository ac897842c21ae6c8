"""Give a staff member a TOTP device, the second factor the admin asks for at login."""

import io

import qrcode
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = (
        "Enrol a TOTP device for a staff member and print its otpauth:// link and a QR "
        "code to scan with an authenticator app."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="authenticator", help="the device's name")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="delete the person's other TOTP devices (a lost phone)",
        )

    def handle(self, *args, username, name, replace, **options):
        user = (
            get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
        )
        if user is None:
            raise CommandError(f"there is no account {username!r}")
        if not user.is_staff:
            raise CommandError(f"{username!r} is not staff: only staff log in to the admin")
        if replace:
            TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name=name, confirmed=True)
        code = qrcode.QRCode(border=1)
        code.add_data(device.config_url)
        picture = io.StringIO()
        code.print_ascii(out=picture, invert=True)
        self.stdout.write(picture.getvalue())
        self.stdout.write(device.config_url)
        self.stdout.write(
            self.style.SUCCESS(
                f"{username} now logs in to the admin with a code from this device. Scan the code "
                "or enter the link's secret in an authenticator app; it is shown only now."
            )
        )
