"""Create (or refresh) a demo organization, event, gates and admin user for `make run`."""

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from events.models import Event, Gate, Membership, Organization
from events.services import event_create, gate_create, membership_add, organization_create


class Command(BaseCommand):
    help = "Create a demo organization, event with two gates, and an admin user."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", help="Default: a new random password each run.")

    @transaction.atomic
    def handle(self, *args, username, password, **options):
        org = Organization.objects.filter(slug="demo").first() or organization_create(
            name="Demo Events Ltd", slug="demo"
        )
        event = Event.objects.filter(organization=org, slug="demo-night").first()
        if event is None:
            now = timezone.now()
            event = event_create(
                organization=org,
                name="Demo Stadium Night",
                slug="demo-night",
                venue="Demo Stadium",
                starts_at=now,
                ends_at=now + timedelta(days=2),
                status=Event.Status.GATES_OPEN,
            )
            gate_create(event=event, name="North 1", mode=Gate.Mode.TICKET_AND_FACE)
            gate_create(event=event, name="VIP face-only", mode=Gate.Mode.FACE_ONLY)
        password = password or secrets.token_urlsafe(9)
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model.objects.create_superuser(
                username=username, email="", password=password
            )
        else:
            user.set_password(password)
            user.is_staff = user.is_superuser = user.is_active = True
            user.save(update_fields=["password", "is_staff", "is_superuser", "is_active"])
        membership_add(organization=org, user=user, role=Membership.Role.OWNER)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: organization {org.name!r}, event {event.name!r} "
                f"with gates {', '.join(event.gates.values_list('name', flat=True))}.\n"
                f"Admin login: username {username!r}, password {password!r}"
            )
        )
