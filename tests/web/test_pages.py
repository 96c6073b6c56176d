"""The public pages: landing page, health check, uniform error pages, security headers."""

import pytest

pytestmark = pytest.mark.django_db


def test_landing_page_names_the_bank_in_chinese_by_default(client):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "网上银行" in body and 'lang="zh-CN"' in body
    assert "柜台" in body and "/login/" in body  # how to get internet banking, and where


def test_landing_page_in_english_on_request(client):
    body = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Wangyin Bank internet banking" in body


def test_head_is_allowed_and_post_is_not(client):
    assert client.head("/").status_code == 200
    assert client.post("/").status_code == 405


@pytest.mark.req("SE-12")
def test_strict_content_security_policy(client):
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "ok" and data["database"]["status"] == "ok"
    assert response["Cache-Control"] == "no-store"


def test_healthz_reports_a_broken_database(client, monkeypatch):
    from django.db import DatabaseError
    from django.db.backends.utils import CursorWrapper

    def broken(self, *args, **kwargs):
        raise DatabaseError("down")

    monkeypatch.setattr(CursorWrapper, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"]["status"] == "unavailable"
    assert "down" not in response.content.decode()


@pytest.mark.req("SE-08")
def test_unknown_page_is_a_plain_error_without_detail(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    body = response.content.decode()
    assert "页面不存在" in body and "Traceback" not in body and "urlpatterns" not in body


@pytest.mark.req("SE-06")
def test_hsts_on_https_responses_only(client):
    secure = client.get("/", secure=True)
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in client.get("/")


@pytest.mark.req("CS-03")
def test_login_page_shows_safety_tips_and_the_configured_hotline(client, settings):
    settings.BANK_HOTLINE = "400-123-4567"
    body = client.get("/login/").content.decode()
    assert "安全提示" in body and "预留信息" in body and "400-123-4567" in body
    assert "不会通过电话或当面索要您的密码" in body
