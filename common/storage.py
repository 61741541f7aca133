"""Private file storage for selfies: a tree outside MEDIA_ROOT with no public URL."""

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible


@deconstructible
class PrivateStorage(FileSystemStorage):
    def __init__(self, **kwargs):
        kwargs.setdefault("location", settings.FACEPASS_PRIVATE_MEDIA_ROOT)
        # base_url None: Storage.url() raises, so a template can never leak a path.
        kwargs["base_url"] = None
        kwargs.setdefault("file_permissions_mode", 0o600)
        kwargs.setdefault("directory_permissions_mode", 0o700)
        super().__init__(**kwargs)

    def url(self, name):
        raise ValueError("Private files have no public URL; serve them through a checked view.")


def private_storage():
    return PrivateStorage()
