"""Server-side rules of a customer's session: one live session per customer, idle timeout,
absolute lifetime, and an end as soon as the network address or device changes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

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


def session_check(*, sid: str, ip: str | None, device: str, at: datetime,
                  touch: bool = True) -> SessionCheck:
    """Validate a request's session and record the activity (``touch``).

    A live session that passes every rule is checked (and touched) by one statement; any
    other outcome takes the locked path, which names the reason and ends the session."""
    session = _live(sid=sid, ip=ip, device=device, at=at, touch=touch)
    if session is not None:
        return SessionCheck(session)
    return _check_locked(sid=sid, ip=ip, device=device, at=at, touch=touch)


def _columns(model, alias: str) -> list[str]:
    return [f'{alias}."{f.column}"' for f in model._meta.concrete_fields]


# The rules of _check_locked as one WHERE clause: not ended, the customer active, not idle
# (at - last_seen_at <= the idle timeout), within the absolute lifetime, the same address
# (compared as text, like the Python comparison) and device.
_LIVE_WHERE = (
    "s.sid = %(sid)s AND s.ended_at IS NULL AND u.id = s.user_id AND u.status = %(active)s "
    "AND s.last_seen_at >= %(idle_since)s AND s.started_at >= %(started_since)s "
    "AND host(s.ip) IS NOT DISTINCT FROM %(ip)s::text AND s.device = %(device)s"
)
_RETURNING = ", ".join(_columns(CustomerSession, "s") + _columns(ChannelUser, "u"))
# Only the models' own column names are put into the text; every value is a parameter.
_TOUCH_SQL = (
    "UPDATE identity_customersession AS s SET last_seen_at = %(at)s "  # noqa: S608
    f"FROM identity_channeluser AS u WHERE {_LIVE_WHERE} RETURNING {_RETURNING}"
)
_READ_SQL = (
    f"SELECT {_RETURNING} FROM identity_customersession AS s, "  # noqa: S608
    f"identity_channeluser AS u WHERE {_LIVE_WHERE}"
)


def _live(*, sid: str, ip: str | None, device: str, at: datetime,
          touch: bool) -> CustomerSession | None:
    """The session with its user if every rule lets it go on (touched if ``touch``),
    else None."""
    params = {"sid": sid, "active": UserStatus.ACTIVE.value, "idle_since": at - idle_timeout(),
              "started_since": at - timedelta(seconds=settings.CUSTOMER_SESSION_MAX_SECONDS),
              "ip": ip, "device": device, "at": at}
    with connection.cursor() as cursor:
        cursor.execute(_TOUCH_SQL if touch else _READ_SQL, params)
        row = cursor.fetchone()
    if row is None:
        return None
    session_fields = [f.attname for f in CustomerSession._meta.concrete_fields]
    user_fields = [f.attname for f in ChannelUser._meta.concrete_fields]
    session = CustomerSession.from_db(connection.alias, session_fields,
                                      row[:len(session_fields)])
    session.user = ChannelUser.from_db(connection.alias, user_fields,
                                       row[len(session_fields):])
    return session


@transaction.atomic
def _check_locked(*, sid: str, ip: str | None, device: str, at: datetime,
                  touch: bool) -> SessionCheck:
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
