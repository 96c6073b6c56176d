"""Server-side rules of a customer's session: one live session per customer, idle timeout,
absolute lifetime, and an end as soon as the network address or device changes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from wangyin.audit import services as audit
from wangyin.identity.models import ChannelUser, CustomerSession, SessionEnd, UserStatus
from wangyin.notify import services as notify


@dataclass(frozen=True)
class SessionCheck:
    session: CustomerSession | None
    ended: str = ""  # a SessionEnd value when the session just ended or had ended


def idle_timeout() -> timedelta:
    return timedelta(seconds=settings.CUSTOMER_IDLE_TIMEOUT_SECONDS)


@transaction.atomic
def session_start(*, user: ChannelUser, ip: str | None, device: str, at: datetime,
                  device_label: str = "") -> CustomerSession:
    """Start a session; any other live session of this customer ends as REPLACED. Every
    sign-in is told in the message centre (CS-05), named by ``device_label``."""
    sessions_end_all(user=user, reason=SessionEnd.REPLACED, at=at)
    session = CustomerSession.objects.create(sid=secrets.token_urlsafe(32), user=user, ip=ip,
                                             device=device, started_at=at, last_seen_at=at)
    audit.record(actor=user.actor, action="identity.session.started", ip=ip, device=device,
                 target=f"session:{session.pk}", occurred_at=at)
    notify.notice_send(person=user.person, kind="security.login",
                       params={"device": device_label or "—"}, at=at)
    return session


@transaction.atomic
def session_check(*, sid: str, ip: str | None, device: str, at: datetime,
                  touch: bool = True) -> SessionCheck:
    """Validate a request's session and record the activity (``touch``)."""
    session = (CustomerSession.objects.select_for_update().select_related("user")
               .filter(sid=sid).first())
    if session is None:
        return SessionCheck(None)
    if session.ended_at is not None:
        return SessionCheck(None, session.end_reason)
    reason = ""
    if session.user.status != UserStatus.ACTIVE:
        reason = SessionEnd.CLOSED
    elif at - session.last_seen_at > idle_timeout():
        reason = SessionEnd.IDLE
    elif at - session.started_at > timedelta(seconds=settings.CUSTOMER_SESSION_MAX_SECONDS):
        reason = SessionEnd.EXPIRED
    elif ip != session.ip:
        reason = SessionEnd.NETWORK
    elif device != session.device:
        reason = SessionEnd.DEVICE
    if reason:
        _end(session, reason, at, ip=ip, device=device)
        return SessionCheck(None, reason)
    if touch:
        session.last_seen_at = at
        session.save(update_fields=["last_seen_at"])
    return SessionCheck(session)


@transaction.atomic
def session_end(*, sid: str, reason: str, at: datetime) -> None:
    session = CustomerSession.objects.select_for_update().filter(
        sid=sid, ended_at__isnull=True).first()
    if session is not None:
        _end(session, reason, at)


@transaction.atomic
def sessions_end_all(*, user: ChannelUser, reason: str, at: datetime) -> None:
    for session in CustomerSession.objects.select_for_update().filter(user=user,
                                                                      ended_at__isnull=True):
        _end(session, reason, at)


def _end(session: CustomerSession, reason: str, at: datetime, *, ip: str | None = None,
         device: str = "") -> None:
    session.ended_at, session.end_reason = at, reason
    session.save(update_fields=["ended_at", "end_reason"])
    audit.record(actor=session.user.actor, action="identity.session.ended",
                 target=f"session:{session.pk}", occurred_at=at, ip=ip or session.ip,
                 device=device or session.device, details={"reason": reason})
