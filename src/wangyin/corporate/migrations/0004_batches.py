# Batch payments and payroll (FC-04): corporate.models.batches; an instruction of kind
# BATCH not yet entered may total zero (all its rows in error or removed).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("corporate", "0003_instruction_transfer")]

    operations = [
        migrations.CreateModel(
            name='Batch',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('file_name', models.CharField(max_length=200)),
                ('file_format', models.CharField(choices=[('CSV', 'CSV'), ('XLSX', 'Excel (.xlsx)')], max_length=4)),
                ('file_sha256', models.CharField(max_length=64)),
                ('uploaded_at', models.DateTimeField()),
                ('rows_count', models.PositiveIntegerField()),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('paid_count', models.PositiveIntegerField(default=0)),
                ('paid_fen', models.BigIntegerField(default=0)),
                ('failed_count', models.PositiveIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name='BatchRow',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('line', models.PositiveIntegerField()),
                ('payee_account', models.CharField(blank=True, max_length=64)),
                ('payee_name', models.CharField(blank=True, max_length=100)),
                ('bank_code', models.CharField(blank=True, max_length=20)),
                ('kind', models.CharField(blank=True, max_length=9)),
                ('amount_fen', models.BigIntegerField(blank=True, null=True)),
                ('amount_text', models.CharField(blank=True, max_length=40)),
                ('purpose', models.CharField(blank=True, max_length=100)),
                ('fee_fen', models.BigIntegerField(default=0)),
                ('status', models.CharField(choices=[('VALID', 'Ready to pay'), ('INVALID', 'Has an error'), ('REMOVED', 'Removed'), ('PAID', 'Paid'), ('FAILED', 'Not paid')], max_length=7)),
                ('error_code', models.CharField(blank=True, max_length=60)),
                ('error', models.CharField(blank=True, max_length=200)),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('ended_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.RemoveConstraint(
            model_name='instruction',
            name='corporate_instruction_amount_positive',
        ),
        migrations.AddConstraint(
            model_name='instruction',
            constraint=models.CheckConstraint(condition=models.Q(('amount_fen__gt', 0), models.Q(('amount_fen', 0), ('entered_at__isnull', True), ('kind', 'BATCH')), _connector='OR'), name='corporate_instruction_amount_positive'),
        ),
        migrations.AddField(
            model_name='batch',
            name='instruction',
            field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='batch', to='corporate.instruction'),
        ),
        migrations.AddField(
            model_name='batchrow',
            name='batch',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='rows', to='corporate.batch'),
        ),
        migrations.AddField(
            model_name='batchrow',
            name='payee_bank',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='payments.bank'),
        ),
        migrations.AddField(
            model_name='batchrow',
            name='transfer',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='payments.transfer'),
        ),
        migrations.AddConstraint(
            model_name='batch',
            constraint=models.CheckConstraint(condition=models.Q(('file_sha256__regex', '^[0-9a-f]{64}$')), name='corporate_batch_sha256_hex'),
        ),
        migrations.AddConstraint(
            model_name='batch',
            constraint=models.CheckConstraint(condition=models.Q(('finished_at__isnull', True), ('started_at__isnull', False), _connector='OR'), name='corporate_batch_finished_after_start'),
        ),
        migrations.AddConstraint(
            model_name='batch',
            constraint=models.CheckConstraint(condition=models.Q(('paid_fen__gte', 0)), name='corporate_batch_paid_not_negative'),
        ),
        migrations.AddIndex(
            model_name='batchrow',
            index=models.Index(fields=['batch', 'status', 'line'], name='corporate_batch_row_status'),
        ),
        migrations.AddConstraint(
            model_name='batchrow',
            constraint=models.UniqueConstraint(fields=('batch', 'line'), name='corporate_batch_line_once'),
        ),
        migrations.AddConstraint(
            model_name='batchrow',
            constraint=models.CheckConstraint(condition=models.Q(('transfer__isnull', True), ('status', 'PAID'), _connector='OR'), name='corporate_batch_row_transfer_when_paid'),
        ),
        migrations.AddConstraint(
            model_name='batchrow',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'PAID'), _negated=True), ('transfer__isnull', False), _connector='OR'), name='corporate_batch_row_paid_has_transfer'),
        ),
        migrations.AddConstraint(
            model_name='batchrow',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status__in', ['VALID', 'PAID']), _negated=True), ('amount_fen__gt', 0), _connector='OR'), name='corporate_batch_row_amount_positive'),
        ),
        migrations.AddConstraint(
            model_name='batchrow',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status__in', ['INVALID', 'FAILED']), _negated=True), models.Q(('error_code', ''), _negated=True), _connector='OR'), name='corporate_batch_row_error_has_code'),
        ),
        migrations.AddConstraint(
            model_name='batchrow',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status__in', ['PAID', 'FAILED']), _negated=True), ('ended_at__isnull', False), _connector='OR'), name='corporate_batch_row_final_has_time'),
        ),
        migrations.AddConstraint(
            model_name='batchrow',
            constraint=models.CheckConstraint(condition=models.Q(('fee_fen__gte', 0)), name='corporate_batch_row_fee_not_negative'),
        ),
    ]
