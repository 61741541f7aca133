from django.apps import AppConfig


class AttendeesConfig(AppConfig):
    name = "attendees"
    verbose_name = "Ticket holders and enrollment"
