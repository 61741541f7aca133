from django.contrib.postgres.operations import CreateCollation
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("attendees", "0006_derive_holder_status")]

    operations = [
        migrations.AddField(
            model_name="ticketholder",
            name="registration_link_issued_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        # Names sort as people read them ("Held out 2" before "Held out 10"): ICU's numeric
        # ordering, used by the admin lists through NATURAL_SORT.
        CreateCollation(
            "natural_sort", provider="icu", locale="und-u-kn-true", deterministic=True
        ),
    ]
