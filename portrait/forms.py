from django import forms
from django.utils.translation import gettext_lazy as _

from .engine.idphoto import BACKGROUNDS, ID_SPECS

ID_SPEC_LABELS = {
    "cn_1inch": _("China 1-inch (25×35 mm)"),
    "cn_2inch": _("China 2-inch (35×49 mm)"),
    "cn_resident_id": _("China resident ID card (26×32 mm)"),
    "cn_passport": _("China passport / travel document (33×48 mm)"),
    "us_passport": _("US passport / visa (2×2 in)"),
    "schengen": _("Schengen visa / ICAO (35×45 mm)"),
}
BACKGROUND_LABELS = {"white": _("White"), "blue": _("Blue"), "red": _("Red")}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultiplePhotoField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget",
            MultipleFileInput(
                attrs={"accept": "image/jpeg,image/png,image/webp,image/heic,image/heif"}
            ),
        )
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single_clean = super().clean
        items = list(data) if isinstance(data, list | tuple) else [data]
        # A form posted with no file at all gives an empty list, which would pass as "no
        # photos" without the field's own "required" error.
        return [single_clean(item, initial) for item in items or [None]]


class UploadForm(forms.Form):
    photos = MultiplePhotoField(label=_("Photos of you"))


class RenderForm(forms.Form):
    style = forms.SlugField(widget=forms.HiddenInput)
    spec = forms.ChoiceField(
        label=_("ID photo size"),
        required=False,
        choices=[(key, ID_SPEC_LABELS.get(key, spec.title)) for key, spec in ID_SPECS.items()],
    )
    background = forms.ChoiceField(
        label=_("Background colour"),
        required=False,
        choices=[(key, BACKGROUND_LABELS.get(key, key)) for key in BACKGROUNDS],
    )

    def options(self):
        return {
            key: self.cleaned_data[key]
            for key in ("spec", "background")
            if self.cleaned_data.get(key)
        }


class VerifyForm(forms.Form):
    file = forms.FileField(
        label=_("Image to check"),
        help_text=_("A JPEG or PNG. It is checked in memory and not kept."),
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png"}),
    )
