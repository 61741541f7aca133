from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AttendeesConfig(AppConfig):
    name = "attendees"
    verbose_name = _("Ticket holders and enrollment")
