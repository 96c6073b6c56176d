"""Device binding (AU-16): new devices need an SMS code; customers manage their devices."""

import pytest
from django.test import Client

from wangyin.audit.models import AuditEvent
from wangyin.identity.models import Device
from wangyin.notify.models import SmsMessage

from .conftest import PASSWORD, pass_captcha, sign_in, sms_code, submit_password

pytestmark = [pytest.mark.django_db, pytest.mark.req("AU-16")]


def test_a_new_device_needs_the_sms_code_before_any_session(client, ready_customer):
    Device.objects.all().delete()
    notices = SmsMessage.objects.filter(purpose="identity.device_bound").count()
    pass_captcha(client, "zhangwei_01")
    response, _ = submit_password(client, PASSWORD)
    assert response.url == "/login/device/"
    page = client.get("/login/device/").content.decode()
    assert "138****0001" in page and "13807970001" not in page
    assert client.get("/home/").url == "/login/"  # no session yet
    assert client.post("/login/device/", {"code": "000000" if sms_code() != "000000"
                                          else "111111"}).status_code == 400
    assert client.post("/login/device/", {"code": sms_code()}).url == "/home/"
    assert client.get("/home/").status_code == 200
    assert SmsMessage.objects.filter(purpose="identity.device_bound").count() == notices + 1


def test_a_bound_device_signs_in_without_a_code(client, ready_customer):
    before = SmsMessage.objects.filter(purpose="authn.device.bind").count()
    assert sign_in(client, "zhangwei_01", PASSWORD).url == "/home/"
    assert SmsMessage.objects.filter(purpose="authn.device.bind").count() == before


def test_devices_are_listed_and_removable(client, ready_customer):
    sign_in(client, "zhangwei_01", PASSWORD)
    page = client.get("/security/").content.decode()
    device = Device.objects.get()
    assert "本设备" in page and f"/security/devices/{device.pk}/remove/" in page
    assert client.post(f"/security/devices/{device.pk}/remove/").url == "/security/confirm/"
    assert Device.objects.filter(removed_at__isnull=True).exists()  # not before the code
    client.post("/security/confirm/", {"code": sms_code("authn.security.change")})
    assert not Device.objects.filter(removed_at__isnull=True).exists()
    client.post("/logout/")
    pass_captcha(client, "zhangwei_01")
    response, _ = submit_password(client, PASSWORD)
    assert response.url == "/login/device/"


def test_another_customers_device_cannot_be_removed(client, ready_customer, make_person, at):
    from wangyin.identity import devices, services

    other = make_person(id_type="PASSPORT", id_number="E12345678", name="李四")
    other_user, _ = services.internet_banking_open(
        person_id=other.pk, login_name="lisi_2026", edition="PRO", risk_acknowledged=True,
        staff="staff:1", reason="r", at=at)
    theirs = devices.device_bind(user=other_user, device_id="x" * 32, label="Chrome",
                                 ip=None, at=at)
    sign_in(client, "zhangwei_01", PASSWORD)
    assert client.post(f"/security/devices/{theirs.pk}/remove/").status_code == 404
    assert Device.objects.get(pk=theirs.pk).removed_at is None


def test_a_device_shared_by_customers_is_recorded(ready_customer, make_person, at):
    from wangyin.identity import devices, services

    other = make_person(id_type="PASSPORT", id_number="E12345678", name="李四")
    other_user, _ = services.internet_banking_open(
        person_id=other.pk, login_name="lisi_2026", edition="PRO", risk_acknowledged=True,
        staff="staff:1", reason="r", at=at)
    shared = Device.objects.get(user=ready_customer).device_id
    devices.device_bind(user=other_user, device_id=shared, label="Chrome", ip=None, at=at)
    event = AuditEvent.objects.filter(action="identity.device.bound").latest("id")
    assert event.details["shared_with_other_customers"] == 1


def test_the_pending_binding_expires(client, ready_customer, settings):
    from datetime import timedelta
    from unittest import mock

    from wangyin.core import clock

    Device.objects.all().delete()
    pass_captcha(client, "zhangwei_01")
    submit_password(client, PASSWORD)
    later = clock.now() + timedelta(minutes=6)
    with mock.patch("wangyin.core.clock.now", return_value=later):
        assert client.get("/login/device/").url == "/login/"
    assert Client().get("/login/device/").url == "/login/"
