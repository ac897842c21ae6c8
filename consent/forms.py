from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import Purpose


def selfie_field():
    return forms.FileField(
        label=_("Verification selfie"),
        help_text=_("A photo of your face taken now. Every photo you upload must match it."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "user"}),
    )


class SelfieForm(forms.Form):
    selfie = selfie_field()


class ConsentForm(forms.Form):
    """Each purpose has its own unticked box; nothing is bundled with anything else."""

    policy_version = forms.IntegerField(widget=forms.HiddenInput)
    policy_hash = forms.CharField(widget=forms.HiddenInput, max_length=64)
    biometric = forms.BooleanField(required=False, label=Purpose.BIOMETRIC.label)
    keep_clone = forms.BooleanField(required=False, label=Purpose.KEEP_CLONE.label)
    render = forms.BooleanField(required=False, label=Purpose.RENDER.label)
    age_confirmed = forms.BooleanField(required=False)
    selfie = selfie_field()

    def __init__(self, *args, policy, needs_selfie, **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy
        self.needs_selfie = needs_selfie
        self.fields["selfie"].required = False
        if not needs_selfie:
            del self.fields["selfie"]
        self.fields["age_confirmed"].label = _("I am at least %(age)s years old.") % {
            "age": settings.SITTER_MIN_AGE
        }
        self.initial.update(policy_version=policy.version, policy_hash=policy.digest)

    def purposes(self):
        return [p for p in self.policy.purposes if self.cleaned_data.get(p)]

    def clean(self):
        cleaned = super().clean()
        if not self.purposes():
            raise forms.ValidationError(_("Tick at least one purpose."))
        wants_biometric = Purpose.BIOMETRIC in self.purposes()
        if wants_biometric and self.needs_selfie and not cleaned.get("selfie"):
            self.add_error("selfie", _("Take or choose a selfie: we match your photos to it."))
        return cleaned
