"""Device binding (AU-16): a customer signs in only from devices bound with an SMS code.
Binding is notified by SMS; the customer lists and removes devices; a device bound by
several customers is recorded for the risk engine."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction

from wangyin.audit import services as audit
from wangyin.identity import services as identity
from wangyin.identity.errors import DeviceRefused
from wangyin.identity.models import ChannelUser, Device
from wangyin.notify import services as notify
from wangyin.risk import services as risk

BIND_PURPOSE = "device.bind"


def device_is_bound(*, user: ChannelUser, device_id: str) -> bool:
    return Device.objects.filter(user=user, device_id=device_id, removed_at__isnull=True
                                 ).exists()


def device_label(user_agent: str) -> str:
    ua = user_agent or ""
    browser = next((name for key, name in (("Edg/", "Edge"), ("Chrome/", "Chrome"),
                                           ("Firefox/", "Firefox"), ("Safari/", "Safari"))
                    if key in ua), "浏览器")
    system = next((name for key, name in (("Windows", "Windows"), ("Android", "Android"),
                                          ("iPhone", "iPhone"), ("Mac OS", "macOS"),
                                          ("Linux", "Linux")) if key in ua), "")
    return f"{browser} {system}".strip()[:120]


def device_bind_check(*, user: ChannelUser, device_id: str, ip: str | None,
                      at: datetime) -> None:
    """Risk control on binding this device, before the SMS code is sent: a device it holds
    or blocks (listed, or on too many customers' banking) is refused, the decision kept."""
    person = user.person
    decision = risk.evaluate(risk.Event(
        kind="device.bind", person_id=person.pk, channel="web", device=device_id, ip=ip,
        at=at, id_number_index=person.id_number_index, phone_index=person.phone_index))
    if decision.action in (risk.BLOCK, risk.REVIEW):
        raise DeviceRefused(extra={"reasons": list(decision.reasons)})


@transaction.atomic
def device_bind(*, user: ChannelUser, device_id: str, label: str, ip: str | None,
                at: datetime) -> Device:
    device, created = Device.objects.get_or_create(
        user=user, device_id=device_id, removed_at=None,
        defaults={"label": label, "bound_at": at, "last_seen_at": at})
    if not created:
        return device
    others = (Device.objects.filter(device_id=device_id, removed_at__isnull=True)
              .exclude(user=user).count())
    audit.record(actor=user.actor, action="identity.device.bound", ip=ip, device=device_id,
                 target=f"device:{device.pk}", occurred_at=at,
                 details={"label": label, "shared_with_other_customers": others})
    notify.notice_send(person=user.person, kind="security.device_bound",
                       params={"device": label}, actor=user.actor, at=at,
                       sms_purpose="identity.device_bound",
                       sms=f"{settings.SMS_SIGNATURE}您的网上银行已绑定新设备（{label}）。"
                       "如非本人操作，请立即致电本行客服。")
    return device


def device_of(*, user: ChannelUser, device_pk: int) -> Device | None:
    return Device.objects.filter(pk=device_pk, user=user, removed_at__isnull=True).first()


def device_remove(*, user: ChannelUser, device_pk: int, authorisation: int, device: str,
                  at: datetime) -> bool:
    """Remove a bound device after the customer confirmed it with the step-up codes
    (AU-11); False if it is not theirs or already gone."""
    if device_of(user=user, device_pk=device_pk) is None:
        return False
    identity.authorise_change(user=user, change="device.remove", value=str(device_pk),
                              device=device, authorisation=authorisation, at=at)
    with transaction.atomic():
        bound = Device.objects.select_for_update().filter(pk=device_pk, user=user,
                                                          removed_at__isnull=True).first()
        if bound is None:
            return False
        bound.removed_at = at
        bound.save(update_fields=["removed_at"])
        audit.record(actor=user.actor, action="identity.device.removed", device=device,
                     target=f"device:{bound.pk}", occurred_at=at,
                     details={"authorisation": authorisation})
        notify.notice_send(person=user.person, kind="security.device_removed",
                           params={"device": bound.label}, at=at)
    return True


def devices_of(*, user: ChannelUser) -> list[Device]:
    return list(Device.objects.filter(user=user, removed_at__isnull=True).order_by("-bound_at"))
