# Bank–enterprise reconciliation (FC-07): balance statements, the differences the company
# reports, staff follow-up notes (corporate.models.reconciliation).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("corporate", "0004_batches"),
        ('authn', '0010_usb_key_company'),
        ('customers', '0002_account_serial'),
    ]

    operations = [
        migrations.CreateModel(
            name='BalanceStatement',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('period', models.DateField()),
                ('currency', models.CharField(default='CNY', max_length=3)),
                ('opening_fen', models.BigIntegerField()),
                ('closing_fen', models.BigIntegerField()),
                ('money_in_fen', models.BigIntegerField(default=0)),
                ('money_out_fen', models.BigIntegerField(default=0)),
                ('postings', models.PositiveIntegerField(default=0)),
                ('issued_at', models.DateTimeField()),
                ('due_on', models.DateField()),
                ('status', models.CharField(choices=[('ISSUED', "Awaiting the company's answer"), ('AGREED', 'Balances agree'), ('DISAGREED', 'Differences reported'), ('RESOLVED', 'Differences resolved')], default='ISSUED', max_length=9)),
                ('answered_at', models.DateTimeField(blank=True, null=True)),
                ('company_balance_fen', models.BigIntegerField(blank=True, null=True)),
                ('canonical', models.TextField(blank=True)),
                ('digest', models.CharField(blank=True, max_length=64)),
                ('reminders_sent', models.PositiveSmallIntegerField(default=0)),
                ('reminded_at', models.DateTimeField(blank=True, null=True)),
                ('resolved_at', models.DateTimeField(blank=True, null=True)),
                ('resolved_by', models.CharField(blank=True, max_length=40)),
                ('resolution', models.CharField(blank=True, max_length=500)),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='balance_statements', to='customers.customeraccount')),
                ('answered_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='corporate.operator')),
                ('service', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='balance_statements', to='corporate.corporateservice')),
                ('signature', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='authn.signature')),
            ],
        ),
        migrations.CreateModel(
            name='StatementDifference',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('line', models.PositiveSmallIntegerField()),
                ('kind', models.CharField(choices=[('BANK_IN', "Received by the bank, not yet in the company's books"), ('BANK_OUT', "Paid by the bank, not yet in the company's books"), ('COMPANY_IN', "Received in the company's books, not yet by the bank"), ('COMPANY_OUT', "Paid in the company's books, not yet by the bank"), ('OTHER', 'Other difference')], max_length=11)),
                ('day', models.DateField()),
                ('amount_fen', models.BigIntegerField()),
                ('description', models.CharField(max_length=100)),
                ('statement', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='differences', to='corporate.balancestatement')),
            ],
            options={
                'ordering': ['line'],
            },
        ),
        migrations.CreateModel(
            name='StatementNote',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField()),
                ('actor', models.CharField(max_length=40)),
                ('action', models.CharField(choices=[('NOTE', 'Follow-up note'), ('RESOLVED', 'Resolved')], default='NOTE', max_length=8)),
                ('text', models.CharField(max_length=500)),
                ('statement', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='notes', to='corporate.balancestatement')),
            ],
            options={
                'ordering': ['at', 'pk'],
            },
        ),
        migrations.AddIndex(
            model_name='balancestatement',
            index=models.Index(fields=['status', 'due_on'], name='corporate_statement_due'),
        ),
        migrations.AddIndex(
            model_name='balancestatement',
            index=models.Index(fields=['service', '-period'], name='corporate_statement_service'),
        ),
        migrations.AddConstraint(
            model_name='balancestatement',
            constraint=models.UniqueConstraint(fields=('account', 'period'), name='corporate_statement_once_per_month'),
        ),
        migrations.AddConstraint(
            model_name='balancestatement',
            constraint=models.CheckConstraint(condition=models.Q(('period__day', 1)), name='corporate_statement_period_month'),
        ),
        migrations.AddConstraint(
            model_name='balancestatement',
            constraint=models.CheckConstraint(condition=models.Q(('status', 'ISSUED'), models.Q(('answered_by__isnull', False), ('answered_at__isnull', False), ('signature__isnull', False), models.Q(('digest', ''), _negated=True)), _connector='OR'), name='corporate_statement_answer_signed'),
        ),
        migrations.AddConstraint(
            model_name='balancestatement',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status__in', ['DISAGREED', 'RESOLVED']), _negated=True), ('company_balance_fen__isnull', False), _connector='OR'), name='corporate_statement_disagreement_balance'),
        ),
        migrations.AddConstraint(
            model_name='balancestatement',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'RESOLVED'), _negated=True), ('resolved_at__isnull', False), _connector='OR'), name='corporate_statement_resolved_has_time'),
        ),
        migrations.AddConstraint(
            model_name='statementdifference',
            constraint=models.UniqueConstraint(fields=('statement', 'line'), name='corporate_difference_line_once'),
        ),
        migrations.AddConstraint(
            model_name='statementdifference',
            constraint=models.CheckConstraint(condition=models.Q(('amount_fen__gt', 0)), name='corporate_difference_amount_positive'),
        ),
    ]
