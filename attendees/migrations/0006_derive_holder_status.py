"""Holder status is derived from consent and photos (issue 16): an admin could set it by hand,
so a holder could read "Enrolled" with no consent and no photo. Derive it once for every holder
that is not revoked (revocation is the one status set by hand, through explicit actions)."""

from django.db import migrations
from django.db.models import Case, Exists, OuterRef, Q, Value, When


def derive_status(apps, schema_editor):
    TicketHolder = apps.get_model("attendees", "TicketHolder")
    EnrollmentPhoto = apps.get_model("attendees", "EnrollmentPhoto")
    accepted = EnrollmentPhoto.objects.filter(holder=OuterRef("pk"), status="accepted")
    TicketHolder.objects.exclude(status="revoked").update(
        status=Case(
            When(Exists(accepted), then=Value("enrolled")),
            When(Q(consent_at__isnull=False), then=Value("consented")),
            default=Value("invited"),
        )
    )


class Migration(migrations.Migration):
    dependencies = [("attendees", "0005_reason_validator")]

    operations = [migrations.RunPython(derive_status, migrations.RunPython.noop)]
