from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PagesConfig(AppConfig):
    """What people see in a browser: the attendee's registration page, the gate screen and the
    organizer's admin screens that combine several apps. The top layer, beside the API."""

    name = "pages"
    verbose_name = _("Pages")
