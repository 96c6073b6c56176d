"""The serial part of customer account numbers comes from a sequence: gap-tolerant, never
reused, safe under concurrency (nextval is not rolled back)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [
        migrations.RunSQL(
            "CREATE SEQUENCE customers_account_serial START 1 NO CYCLE",
            "DROP SEQUENCE customers_account_serial",
        ),
    ]
