
import django.contrib.postgres.fields
import django.db.models.deletion
import wangyin.core.fields
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('authn', '0001_initial'),
        ('customers', '0002_account_serial'),
    ]

    operations = [
        migrations.CreateModel(
            name='OtpToken',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('serial', models.CharField(max_length=20, unique=True)),
                ('seed', wangyin.core.fields.EncryptedTextField(purpose='authn.totp.seed')),
                ('digits', models.PositiveSmallIntegerField(default=6)),
                ('period', models.PositiveSmallIntegerField(default=30)),
                ('last_step', models.BigIntegerField(default=0)),
                ('failures', models.PositiveSmallIntegerField(default=0)),
                ('status', models.CharField(choices=[('ACTIVE', 'In use'), ('LOCKED', 'Locked after wrong codes'), ('REVOKED', 'Revoked')], default='ACTIVE', max_length=8)),
                ('issued_at', models.DateTimeField()),
                ('issued_by', models.CharField(max_length=40)),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.RemoveField(
            model_name='authchallenge',
            name='factor',
        ),
        migrations.AddField(
            model_name='authchallenge',
            name='factors',
            field=django.contrib.postgres.fields.ArrayField(base_field=models.CharField(choices=[('SMS', 'SMS code to the reserved phone'), ('TOTP', 'OTP token')], max_length=8), default=['SMS'], size=None),
            preserve_default=False,  # every challenge so far was an SMS code
        ),
        migrations.AddField(
            model_name='authchallenge',
            name='used_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name='authchallenge',
            name='code_hash',
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddConstraint(
            model_name='authchallenge',
            constraint=models.CheckConstraint(condition=models.Q(('used_at__isnull', True), ('verified_at__isnull', False), _connector='OR'), name='authn_used_only_when_verified'),
        ),
        migrations.AddConstraint(
            model_name='authchallenge',
            constraint=models.CheckConstraint(condition=models.Q(('factors__len__gt', 0)), name='authn_challenge_has_factors'),
        ),
        migrations.AddField(
            model_name='otptoken',
            name='person',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='otp_tokens', to='customers.person'),
        ),
        migrations.AddConstraint(
            model_name='otptoken',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'REVOKED'), _negated=True), fields=('person',), name='authn_one_token_per_person'),
        ),
        migrations.AddConstraint(
            model_name='otptoken',
            constraint=models.CheckConstraint(condition=models.Q(('digits__gte', 6), ('period__in', [30, 60])), name='authn_token_digits_period'),
        ),
    ]
