"""Forms of the public registration page: ticket lookup, consent, selfie upload."""

import io
import warnings

from django import forms
from django.conf import settings
from PIL import Image, UnidentifiedImageError

# Formats phones and browsers produce; everything else is refused at the door rather than
# handed to the worker's decoder.
PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")
NOT_A_PHOTO = "This file is not a photo we can read. Please use a JPEG, PNG or WebP picture."


class TicketLookupForm(forms.Form):
    ticket_code = forms.CharField(
        label="Ticket code",
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off"}),
    )
    email = forms.EmailField(
        label="E-mail address on the ticket",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class ConsentForm(forms.Form):
    agree = forms.BooleanField(
        label="I agree to the processing of my face data as described above.",
        error_messages={"required": "Please tick the box to give your consent, or leave it."},
    )
    # Not required: a missing version is reported by the service as a changed text.
    text_version = forms.CharField(widget=forms.HiddenInput, max_length=40, required=False)


class PhotoUploadForm(forms.Form):
    photo = forms.FileField(
        label="Your photo",
        error_messages={
            "required": "Please take or choose a photo first.",
            "empty": "The file is empty. Please take or choose a photo.",
            "invalid": NOT_A_PHOTO,
        },
    )

    def clean_photo(self) -> bytes:
        upload = self.cleaned_data["photo"]
        limit = settings.FACEPASS_UPLOAD_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The photo is larger than {limit / 1_048_576:.0f} MB. "
                "Please take a new one or choose a smaller file."
            )
        data = upload.read()
        problem = photo_bytes_problem(data)
        if problem:
            raise forms.ValidationError(problem)
        return data


def photo_bytes_problem(data: bytes) -> str:
    """'' when the bytes are a photo the pipeline can decode, else what is wrong, in plain words.

    Only the header is parsed: enough to refuse non-images and decompression bombs here,
    without decoding megapixels in the web process (the worker does that).
    """
    if not data:
        return "The file is empty. Please take or choose a photo."
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=PHOTO_FORMATS) as image:
                width, height = image.size
                image.verify()
    except Image.DecompressionBombError:
        return "The picture has far too many pixels. Please use a normal photo."
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return NOT_A_PHOTO
    if width * height > settings.FACEPASS_UPLOAD_MAX_PIXELS:
        return "The picture has far too many pixels. Please use a normal photo."
    return ""
