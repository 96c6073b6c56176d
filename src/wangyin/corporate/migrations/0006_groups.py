# Group view (FC-08) and accounts linked online with dual approval (ON-05):
# corporate.models.groups.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("authn", "0010_usb_key_company"),
        ("corporate", "0005_reconciliation"),
        ("customers", "0002_account_serial"),
    ]

    operations = [
        migrations.CreateModel(
            name='AccountLinkRequest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('REQUESTED', 'Awaiting approval'), ('APPROVED', "Awaiting the contact's code"), ('LINKED', 'Linked'), ('REJECTED', 'Rejected'), ('CANCELLED', 'Cancelled'), ('EXPIRED', 'Expired'), ('FAILED', 'Not confirmed')], max_length=9)),
                ('digest', models.CharField(max_length=64)),
                ('requested_at', models.DateTimeField()),
                ('approved_at', models.DateTimeField(blank=True, null=True)),
                ('expires_at', models.DateTimeField()),
                ('code_hash', models.CharField(blank=True, max_length=64)),
                ('code_expires_at', models.DateTimeField(blank=True, null=True)),
                ('code_attempts', models.PositiveSmallIntegerField(default=0)),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
                ('ended_by', models.CharField(blank=True, max_length=40)),
                ('end_reason', models.CharField(blank=True, max_length=200)),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='customers.customeraccount')),
                ('approval_signature', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='authn.signature')),
                ('approved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='corporate.operator')),
                ('link', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='corporate.serviceaccount')),
                ('request_signature', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='authn.signature')),
                ('requested_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='corporate.operator')),
                ('service', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='link_requests', to='corporate.corporateservice')),
            ],
            options={
                'constraints': [models.UniqueConstraint(condition=models.Q(('status__in', ['REQUESTED', 'APPROVED'])), fields=('service', 'account'), name='corporate_link_request_open_once'), models.CheckConstraint(condition=models.Q(('approved_by__isnull', True), models.Q(('approved_by', models.F('requested_by')), _negated=True), _connector='OR'), name='corporate_link_request_two_operators'), models.CheckConstraint(condition=models.Q(('status__in', ['REQUESTED', 'APPROVED']), ('ended_at__isnull', False), _connector='OR'), name='corporate_link_request_ended_has_time'), models.CheckConstraint(condition=models.Q(models.Q(('status', 'LINKED'), _negated=True), models.Q(('approval_signature__isnull', False), ('link__isnull', False)), _connector='OR'), name='corporate_link_request_linked_when_approved')],
            },
        ),
        migrations.CreateModel(
            name='GroupGrant',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('authorisation_ref', models.CharField(max_length=60)),
                ('reason', models.CharField(blank=True, max_length=200)),
                ('granted_at', models.DateTimeField()),
                ('granted_by', models.CharField(max_length=40)),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
                ('ended_by', models.CharField(blank=True, max_length=40)),
                ('end_reason', models.CharField(blank=True, max_length=200)),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='group_grants', to='customers.customeraccount')),
                ('service', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='group_grants', to='corporate.corporateservice')),
            ],
            options={
                'constraints': [models.UniqueConstraint(condition=models.Q(('ended_at__isnull', True)), fields=('service', 'account'), name='corporate_group_grant_live_once'), models.CheckConstraint(condition=models.Q(('authorisation_ref', ''), _negated=True), name='corporate_group_grant_has_authorisation'), models.CheckConstraint(condition=models.Q(('ended_at__isnull', True), models.Q(('ended_by', ''), _negated=True), _connector='OR'), name='corporate_group_grant_ended_by_whom')],
            },
        ),
        migrations.CreateModel(
            name='GroupViewer',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('granted_at', models.DateTimeField()),
                ('granted_by', models.CharField(max_length=40)),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
                ('ended_by', models.CharField(blank=True, max_length=40)),
                ('end_signature', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='authn.signature')),
                ('operator', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='group_views', to='corporate.operator')),
                ('signature', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='authn.signature')),
            ],
            options={
                'constraints': [models.UniqueConstraint(condition=models.Q(('ended_at__isnull', True)), fields=('operator',), name='corporate_group_viewer_live_once')],
            },
        ),
    ]
