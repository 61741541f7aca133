"""Forms of the public registration page: ticket lookup, consent, selfie upload."""

from django import forms
from django.utils.translation import gettext_lazy as _

from common.images import image_upload_check, upload_size_check
from common.reasons import Reason, ReasonError, reason_info


class TicketLookupForm(forms.Form):
    ticket_code = forms.CharField(
        label=_("Ticket code"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off"}),
    )
    email = forms.EmailField(
        label=_("E-mail address on the ticket"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class ConsentForm(forms.Form):
    agree = forms.BooleanField(
        label=_("I agree to the processing of my face data as described above."),
        error_messages={"required": _("Please tick the box to give your consent, or leave it.")},
    )
    # Not required: a missing version is reported by the service as a changed text.
    text_version = forms.CharField(widget=forms.HiddenInput, max_length=40, required=False)


class PhotoUploadForm(forms.Form):
    photo = forms.FileField(
        label=_("Your photo"),
        error_messages={
            "required": _("Please take or choose a photo first."),
            "empty": _("The file is empty. Please take or choose a photo."),
            "invalid": reason_info(Reason.NOT_AN_IMAGE).advice,
        },
    )

    def clean_photo(self) -> bytes:
        upload = self.cleaned_data["photo"]
        try:
            upload_size_check(upload.size)  # before reading: the file may be huge
            data = upload.read()
            image_upload_check(data)
        except ReasonError as exc:
            raise forms.ValidationError(exc.advice) from None
        return data
