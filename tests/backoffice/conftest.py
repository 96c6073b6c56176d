import pytest
from django.test import Client

from wangyin.backoffice import staff

from .test_backoffice import STAFF_PASSWORD, _code


def staff_signed_in(username: str, role: str) -> Client:
    """A new staff member of ``role``, signed in (password and TOTP) in a client of its own."""
    _user, device = staff.staff_create(username=username, password=STAFF_PASSWORD, role=role,
                                       created_by="system:test")
    client = Client()
    client.post("/bo/login/", {"username": username, "password": STAFF_PASSWORD})
    assert client.post("/bo/login/otp/", {"token": _code(device)}).url == "/bo/"
    return client


@pytest.fixture
def risk_officer(db) -> Client:
    return staff_signed_in("risk01", staff.RISK_OFFICER)


@pytest.fixture
def risk_manager(db) -> Client:
    return staff_signed_in("riskhq01", staff.RISK_MANAGER)
