"""The SMS port: outbox rows in the business transaction, delivery by a job, sandbox inbox."""

from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from wangyin.audit.models import AuditEvent
from wangyin.notify import selectors, services, tasks
from wangyin.notify.gateways import HttpSmsGateway, SandboxSmsGateway, SmsDeliveryError, gateway
from wangyin.notify.models import SmsMessage, SmsStatus

pytestmark = pytest.mark.django_db

CODE_TEXT = "【网银银行】验证码 493817，2分钟内有效。请勿告诉他人。"


def _send(at, phone="13800138000", body=CODE_TEXT, purpose="test.code"):
    return services.sms_send(phone=phone, body=body, purpose=purpose, actor="system:test",
                             at=at)


def _jobs():
    with connection.cursor() as cursor:
        cursor.execute("SELECT args->>'message_id', status FROM procrastinate_jobs "
                       "WHERE task_name = 'notify.deliver_sms'")
        return cursor.fetchall()


def test_the_job_delivers_and_is_registered_with_retries(at):
    from procrastinate.contrib.django import app

    message = _send(at)
    assert tasks.deliver_sms(message_id=message.pk) == "SENT"
    assert app.tasks["notify.deliver_sms"].retry_strategy.max_attempts == services.MAX_ATTEMPTS


def test_sending_queues_a_message_and_its_delivery_job(at):
    message = _send(at)
    assert message.status == SmsStatus.QUEUED
    assert _jobs() == [(str(message.pk), "todo")]


@pytest.mark.req("PI-04", "AD-03")
def test_phone_and_text_are_encrypted_and_the_code_is_not_audited(at):
    message = _send(at)
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, body FROM notify_smsmessage WHERE id = %s", [message.pk])
        phone, body = (bytes(v) for v in cursor.fetchone())
    assert b"13800138000" not in phone and b"493817" not in body
    event = AuditEvent.objects.get(action="notify.sms.queued")
    assert "493817" not in str(event.details) and event.details["phone"] == "138****8000"


def test_a_rolled_back_business_change_sends_nothing(at):
    with pytest.raises(RuntimeError), transaction.atomic():
        _send(at)
        raise RuntimeError("the business change failed")
    assert not SmsMessage.objects.exists() and _jobs() == []


def test_delivery_through_the_sandbox_marks_it_sent_once(at, later):
    message = _send(at)
    delivered = services.sms_deliver(message_id=message.pk, now=later)
    assert (delivered.status, delivered.gateway, delivered.sent_at) == ("SENT", "sandbox", later)
    assert delivered.provider_ref == f"sandbox-{message.pk}"
    again = services.sms_deliver(message_id=message.pk, now=later)
    assert again.attempts == 1


def test_a_refusing_gateway_is_retried_then_marked_failed(at, later):
    message = _send(at)
    with mock.patch.object(SandboxSmsGateway, "send", side_effect=SmsDeliveryError("down")):
        for attempt in range(1, services.MAX_ATTEMPTS):
            with pytest.raises(SmsDeliveryError):  # the job raises so procrastinate retries
                tasks.deliver_sms(message_id=message.pk)
            assert SmsMessage.objects.get(pk=message.pk).attempts == attempt
        final = services.sms_deliver(message_id=message.pk, now=later)
    assert (final.status, final.attempts, final.error) == ("FAILED", 5, "down")


def test_inbox_lists_newest_first_and_filters_by_phone(at, later):
    first = _send(at, phone="13800138000")
    second = _send(later, phone="13900139000", body="【网银银行】您的账户已锁定。")
    assert selectors.sms_inbox() == [second, first]
    assert selectors.sms_inbox(phone="13800138000") == [first]


def test_inbox_command_shows_the_texts_with_masked_numbers(at, capsys):
    _send(at)
    call_command("sms", "inbox")
    out = capsys.readouterr().out
    assert "493817" in out and "138****8000" in out and "13800138000" not in out


def test_http_gateway_needs_https_and_a_token(settings, monkeypatch):
    with pytest.raises(ValueError, match="https"):
        HttpSmsGateway(url="http://sms.example", token="t")
    settings.SMS_GATEWAY, settings.SMS_URL = "http", "https://sms.example/send"
    monkeypatch.delenv("WANGYIN_SMS_TOKEN", raising=False)
    with pytest.raises(ValueError, match="WANGYIN_SMS_TOKEN"):
        gateway()
    monkeypatch.setenv("WANGYIN_SMS_TOKEN", "secret-token")
    assert isinstance(gateway(), HttpSmsGateway)


def test_http_gateway_posts_json_with_a_bearer_token():
    import io
    import json

    sent = {}

    class Answer(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(request, timeout):
        sent.update(url=request.full_url, auth=request.get_header("Authorization"),
                    body=json.loads(request.data))
        return Answer(b'{"id": "gw-77"}')

    port = HttpSmsGateway(url="https://sms.example/send", token="tkn")
    with mock.patch("urllib.request.urlopen", fake_urlopen):
        assert port.send(phone="13800138000", body="hi", reference="9") == "gw-77"
    assert sent == {"url": "https://sms.example/send", "auth": "Bearer tkn",
                    "body": {"to": "13800138000", "text": "hi", "reference": "9"}}
    with mock.patch("urllib.request.urlopen", side_effect=OSError("refused")), \
            pytest.raises(SmsDeliveryError):
        port.send(phone="13800138000", body="hi", reference="9")
