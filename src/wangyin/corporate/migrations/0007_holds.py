# Corporate holds (the "holds" part): an instruction held for the risk desk's review
# (status HELD, its case, who released it) and the operator's reserved message (AU-13).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("corporate", "0006_groups"), ("risk", "0006_decision_ref")]

    operations = [
        migrations.AddField(
            model_name='instruction',
            name='held_case',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='risk.case'),
        ),
        migrations.AddField(
            model_name='instruction',
            name='review_released_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='instruction',
            name='review_released_by',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name='operator',
            name='reserved_message',
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AlterField(
            model_name='instruction',
            name='status',
            field=models.CharField(choices=[('DRAFT', 'Draft'), ('ENTERED', 'Entered, awaiting check'), ('CHECKED', 'Checked, awaiting authorisation'), ('AUTHORISED', 'Authorised, being paid'), ('HELD', 'Held for review'), ('EXECUTED', 'Paid'), ('FAILED', 'Could not be paid'), ('REJECTED', 'Rejected'), ('EXPIRED', 'Expired'), ('CANCELLED', 'Cancelled')], max_length=10),
        ),
        migrations.AlterField(
            model_name='instructionevent',
            name='status',
            field=models.CharField(choices=[('DRAFT', 'Draft'), ('ENTERED', 'Entered, awaiting check'), ('CHECKED', 'Checked, awaiting authorisation'), ('AUTHORISED', 'Authorised, being paid'), ('HELD', 'Held for review'), ('EXECUTED', 'Paid'), ('FAILED', 'Could not be paid'), ('REJECTED', 'Rejected'), ('EXPIRED', 'Expired'), ('CANCELLED', 'Cancelled')], max_length=10),
        ),
        migrations.AddConstraint(
            model_name='instruction',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'HELD'), _negated=True), ('held_case__isnull', False), _connector='OR'), name='corporate_instruction_held_in_a_case'),
        ),
    ]
