import uuid

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0003_identity_verification"),
        ("signing", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="party",
            name="min_assurance",
            field=models.CharField(
                choices=[("L1", "L1"), ("L2", "L2"), ("L3", "L3")], default="L2", max_length=2
            ),
        ),
        migrations.AddField(
            model_name="party",
            name="willingness",
            field=models.JSONField(default=list),
        ),
        migrations.AddField(
            model_name="party",
            name="identity_verification",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="identity.identityverification",
            ),
        ),
        migrations.CreateModel(
            name="PartyAccess",
            fields=[
                (
                    "id",
                    models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False),
                ),
                ("secret_hash", models.CharField(max_length=64, unique=True)),
                ("email_proved_at", models.DateTimeField()),
                ("phone_proved_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("expires_at", models.DateTimeField()),
                (
                    "party",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="accesses",
                        to="signing.party",
                    ),
                ),
            ],
        ),
    ]
