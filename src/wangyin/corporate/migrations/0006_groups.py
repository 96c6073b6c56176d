# Reserved for this part's models (filled in by the part; see models/).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [("corporate", "0005_reconciliation")]

    operations = []
