"""Django settings. Everything that differs between machines comes from the environment.

- ``DATABASE_URL``: any PostgreSQL >= 14. Unset: the embedded server under ``var/pgdata``.
- ``WANGYIN_SECRET_KEY``, ``WANGYIN_PII_KEYS``, ``WANGYIN_BLIND_INDEX_KEY``: keys (see
  ``wangyin.core.keys``); generated under ``var/keys`` on a demo machine if unset.
- ``WANGYIN_DEBUG=1`` for development only; ``WANGYIN_ALLOWED_HOSTS`` comma-separated.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dj_database_url

from wangyin.core import embedded_db
from wangyin.core.keys import load_secret
from wangyin.core.logging import configure_structlog, logging_config
from wangyin.core.paths import var_dir

VAR_DIR = var_dir()

DEBUG = os.environ.get("WANGYIN_DEBUG") == "1"
SECRET_KEY = load_secret("django_secret_key", env="WANGYIN_SECRET_KEY", nbytes=48).hex()
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("WANGYIN_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "procrastinate.contrib.django",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "wangyin.core",
    "wangyin.audit",
    "wangyin.ledger",
    "wangyin.customers",
    "wangyin.notify",
    "wangyin.identity",
    "wangyin.authn",
    "wangyin.risk",
    "wangyin.payments",
    "wangyin.corporate",
    "wangyin.aml",
    "wangyin.receipts",
    "wangyin.ops",
    "wangyin.web",
    "wangyin.corpweb",
    "wangyin.backoffice",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "wangyin.web.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "wangyin.web.customer.CustomerMiddleware",
    "wangyin.corpweb.middleware.OperatorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The customer site with the back office under /bo/; an internal deployment can serve the
# back office alone on its own port with WANGYIN_ROOT_URLCONF=wangyin.backoffice.root_urls.
ROOT_URLCONF = os.environ.get("WANGYIN_ROOT_URLCONF", "wangyin.urls")
LOGIN_URL = "/bo/login/"
WSGI_APPLICATION = "wangyin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.messages.context_processors.messages",
                "wangyin.web.context.bank",
                "wangyin.web.context.inbox",
            ]
        },
    }
]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    DATABASES = {"default": {**embedded_db.database_settings(), "CONN_MAX_AGE": 60}}
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# psycopg 3 server-side parameter binding with prepared statements: PostgreSQL parses and
# plans a query shape once per connection instead of on every execution (about a quarter
# less database CPU per transfer in `make bench-transfers`). WANGYIN_DB_PREPARE=0 turns it
# off, e.g. behind a connection pooler that cannot carry prepared statements.
if os.environ.get("WANGYIN_DB_PREPARE", "1") != "0":
    DATABASES["default"]["OPTIONS"].update(server_side_binding=True, prepare_threshold=2)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

LOCALE_PATHS = [Path(__file__).resolve().parent / "locale"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # filled by collectstatic; whitenoise wants it to exist

# Sessions and cookies: strict by default (SE-01, SE-06).
SESSION_ENGINE = "wangyin.web.session_store"  # the database store, updates in one statement
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
SESSION_COOKIE_SECURE = not DEBUG and os.environ.get("WANGYIN_INSECURE_COOKIES") != "1"
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
# HSTS (SE-06): sent on every HTTPS response; plain-HTTP development is unaffected.
SECURE_HSTS_SECONDS = 31_536_000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
if os.environ.get("WANGYIN_BEHIND_TLS_PROXY") == "1":  # the proxy sets X-Forwarded-Proto
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# The audit log is split into this many hash chains so that concurrent writers do not
# queue on one chain head; each chain is verified on its own (see wangyin.audit).
AUDIT_CHAINS = int(os.environ.get("WANGYIN_AUDIT_CHAINS", "64"))

configure_structlog()
LOGGING = logging_config(os.environ.get("WANGYIN_LOG_LEVEL", "INFO"))

# Customer account numbers: this 8-digit bank + branch prefix, a 10-digit serial from a
# database sequence and a Luhn check digit (19 digits, like a bank card number).
ACCOUNT_NUMBER_PREFIX = os.environ.get("WANGYIN_ACCOUNT_PREFIX", "62368001")

# SMS: "sandbox" keeps every message in the inbox (back office, `wangyin sms inbox`);
# "http" sends through WANGYIN_SMS_URL with the bearer token WANGYIN_SMS_TOKEN.
SMS_GATEWAY = os.environ.get("WANGYIN_SMS_GATEWAY", "sandbox")
SMS_URL = os.environ.get("WANGYIN_SMS_URL", "")
# Payments (wangyin.payments): a payment at or above this many fen is held for staff review
# by the risk hook until the risk engine lands; at or above the warning amount the
# confirmation page warns about large payments (TX-12). Class II / III accounts: daily
# outward payments to others, in fen (PBOC account classification; bank parameters).
RISK_REVIEW_FEN = int(os.environ.get("WANGYIN_RISK_REVIEW_FEN", str(500_000 * 100)))
# The risk engine (``wangyin.risk``): how often a process looks for a newly approved rule
# set; the time an evaluation may take before the fallback decides instead (step-up, or
# review for a payment at or above the fallback amount).
RISK_RULES_REFRESH_SECONDS = float(os.environ.get("WANGYIN_RISK_RULES_REFRESH", "5"))
RISK_BUDGET_MS = float(os.environ.get("WANGYIN_RISK_BUDGET_MS", "250"))
RISK_FALLBACK_REVIEW_FEN = int(os.environ.get("WANGYIN_RISK_FALLBACK_REVIEW_FEN",
                                              str(5_000 * 100)))
# The thresholds the shipped rules read as ``params.<name>`` (amounts in fen, counts, hours,
# km/h); WANGYIN_RISK_PARAMS (JSON) overrides any of them. docs/risk.md explains each rule.
# (``params.review_fen`` is RISK_REVIEW_FEN.)
RISK_PARAMS = {
    "ip_fail_limit": 20,  # failed sign-ins from one IP in an hour: the IP is blocked
    "device_customers": 3,  # customers bound on one device
    "travel_kmh": 800, "travel_min_km": 300,  # faster than a plane between two events
    "new_device_hours": 24, "new_device_large_fen": 50_000 * 100,
    "frequency_10m": 5, "frequency_1h": 10,
    "structuring_floor_fen": 450_000 * 100, "structuring_count": 2,
    "dormant_days": 180, "dormant_fen": 10_000 * 100,
    "rapid_min_fen": 50_000 * 100, "rapid_out_pct": 80,
    "night_large_fen": 20_000 * 100,
    "unusual_times_max": 5, "unusual_min_fen": 10_000 * 100, "usual_payments": 5,
    "peer_times_p95": 5,
} | {k: int(v) for k, v in json.loads(os.environ.get("WANGYIN_RISK_PARAMS", "{}")).items()}
RISK_IP_BLOCK_MINUTES = int(os.environ.get("WANGYIN_RISK_IP_BLOCK_MINUTES", "60"))
RISK_IP_REGIONS = os.environ.get("WANGYIN_IP_REGIONS", "")  # empty: the shipped table
LARGE_PAYMENT_WARNING_FEN = int(os.environ.get("WANGYIN_LARGE_PAYMENT_FEN", str(50_000 * 100)))
CLASS_II_DAILY_OUT_FEN = int(os.environ.get("WANGYIN_CLASS_II_DAILY_FEN", str(10_000 * 100)))
CLASS_III_DAILY_OUT_FEN = int(os.environ.get("WANGYIN_CLASS_III_DAILY_FEN", str(2_000 * 100)))
# Accounts not opened face to face (ON-13): daily outward payments to others, in fen.
REMOTE_ACCOUNT_DAILY_OUT_FEN = int(os.environ.get("WANGYIN_REMOTE_DAILY_FEN", str(5_000 * 100)))
# Transfer fees (``payments.fees``): the schedule file (TOML; the shipped one charges
# personal customers nothing) and the GL account fees are credited to.
FEE_SCHEDULE_FILE = os.environ.get(
    "WANGYIN_FEE_SCHEDULE", str(Path(__file__).parent / "payments" / "data" / "fees.toml"))
FEE_INCOME_ACCOUNT = os.environ.get("WANGYIN_FEE_INCOME", "GL60210001")
# Interbank clearing (``payments.clearing``). This bank's CNAPS bank code; the adapter:
# "sandbox" (the sandbox clearing system — settles in seconds, rejects and returns like the
# real one; docs/operations.md) or "http" (the bank's front-end processor at
# WANGYIN_CLEARING_URL, messages signed with the HMAC key WANGYIN_CLEARING_KEY). Routing:
# up to the real-time limit through IBPS (24/7); above it through HVPS in its operating
# hours (local time) on the bank's working days (``core.calendar``: public holidays and
# make-up working days, loaded by ``wangyin calendar load``), otherwise BEPS. The GL
# accounts the money goes through.
BANK_CNAPS_CODE = os.environ.get("WANGYIN_BANK_CNAPS", "319428000010")
CLEARING_ADAPTER = os.environ.get("WANGYIN_CLEARING", "sandbox")
CLEARING_URL = os.environ.get("WANGYIN_CLEARING_URL", "")
CLEARING_IBPS_MAX_FEN = int(os.environ.get("WANGYIN_IBPS_MAX_FEN", str(50_000 * 100)))
CLEARING_HVPS_HOURS = os.environ.get("WANGYIN_HVPS_HOURS", "08:30-17:15")
CLEARING_SUSPENSE_ACCOUNT = os.environ.get("WANGYIN_CLEARING_SUSPENSE", "GL30010001")
CLEARING_RESERVE_ACCOUNT = os.environ.get("WANGYIN_CLEARING_RESERVE", "GL10030001")
# The reconciliation job acts on a message still queued, or sent and unanswered, this
# many seconds after it was written / sent (per channel: BEPS settles in batches).
CLEARING_STUCK_SECONDS = {"QUEUED": 60, "IBPS": 120, "HVPS": 1800, "BEPS": 7200}
# The sandbox clearing system: seconds until it settles (per channel) and, after that,
# until the payee's bank returns a payment it cannot apply.
SANDBOX_CLEARING_DELAYS = {"IBPS": 2, "HVPS": 5, "BEPS": 30, "RETURN": 20}
# Scheduled and recurring transfers run on their date from this local hour (worker job).
STANDING_ORDER_HOUR = int(os.environ.get("WANGYIN_ORDER_HOUR", "8"))
# Corporate payment instructions (``corporate.approvals``): one not fully approved by the end
# of this many calendar days (Beijing time) after the day it was entered expires.
CORPORATE_INSTRUCTION_DAYS = int(os.environ.get("WANGYIN_CORPORATE_INSTRUCTION_DAYS", "7"))
# Face verification against the ID photo (FA-08, ``authn.face``): "sandbox" (the sandbox
# register, `wangyin face register`), "http" (WANGYIN_FACE_URL with the bearer token
# WANGYIN_FACE_TOKEN) or "off". The similarity the bank requires of the provider's answer.
FACE_VERIFIER = os.environ.get("WANGYIN_FACE_VERIFIER", "sandbox")
FACE_URL = os.environ.get("WANGYIN_FACE_URL", "")
FACE_MIN_SIMILARITY = float(os.environ.get("WANGYIN_FACE_MIN_SIMILARITY", "0.85"))

# Customer login (AU-08, AU-12): consecutive failures before login locks until the next
# day (the standards allow at most 10), and the age at which a password must be changed.
LOGIN_MAX_FAILURES = min(10, int(os.environ.get("WANGYIN_LOGIN_MAX_FAILURES", "5")))
PASSWORD_MAX_AGE_DAYS = int(os.environ.get("WANGYIN_PASSWORD_MAX_AGE_DAYS", "90"))
# Changing the reserved mobile number online (ON-11): off — counter only — unless "1".
ONLINE_PHONE_CHANGE = os.environ.get("WANGYIN_ONLINE_PHONE_CHANGE") == "1"
# Passkeys (WebAuthn, FA-07): the relying-party id is the site's domain (never an IP
# address — browsers refuse those) and the origins the browser may report.
WEBAUTHN_RP_ID = os.environ.get("WANGYIN_WEBAUTHN_RP_ID", "localhost")
WEBAUTHN_ORIGINS = [o for o in os.environ.get(
    "WANGYIN_WEBAUTHN_ORIGINS", "http://localhost:8000").split(",") if o]
# The U盾 agent customers run next to the browser (``wangyin-usbkey serve``): the bank's
# pages talk to it on the customer's own machine, so the CSP lets them connect there.
USBKEY_AGENT_URL = os.environ.get("WANGYIN_USBKEY_AGENT", "http://127.0.0.1:8765").rstrip("/")
# OTP tokens (FA-02): consecutive wrong codes before the server locks a token (at most 6).
TOKEN_MAX_FAILURES = min(6, int(os.environ.get("WANGYIN_TOKEN_MAX_FAILURES", "5")))
SMS_SIGNATURE = os.environ.get("WANGYIN_SMS_SIGNATURE", "【网银银行】")
# Customer sessions (SE-02): idle timeout 5 minutes by default, never more than 15; an
# absolute lifetime however active the customer is.
CUSTOMER_IDLE_TIMEOUT_SECONDS = min(900, int(os.environ.get("WANGYIN_IDLE_TIMEOUT", "300")))
CUSTOMER_SESSION_MAX_SECONDS = int(os.environ.get("WANGYIN_SESSION_MAX", str(4 * 3600)))

# What customers are told about the bank itself (shown in safety tips and footers).
BANK_HOTLINE = os.environ.get("WANGYIN_BANK_HOTLINE", "000-0000-0000")

# Large-value transaction reports (``wangyin.aml``, PBOC rules): a customer's single or
# same-day cumulative amount per direction at or above these (fen) is reported — cash;
# a company's transfers; a person's domestic and cross-border transfers.
AML_CASH_FEN = int(os.environ.get("WANGYIN_AML_CASH_FEN", str(50_000 * 100)))
AML_CORPORATE_TRANSFER_FEN = int(os.environ.get("WANGYIN_AML_CORPORATE_TRANSFER_FEN",
                                                str(2_000_000 * 100)))
AML_PERSONAL_DOMESTIC_FEN = int(os.environ.get("WANGYIN_AML_PERSONAL_DOMESTIC_FEN",
                                               str(500_000 * 100)))
AML_PERSONAL_CROSS_BORDER_FEN = int(os.environ.get("WANGYIN_AML_PERSONAL_CROSS_BORDER_FEN",
                                                   str(200_000 * 100)))

# Rate limits (SE-11): (hits, per seconds), counted in PostgreSQL so every process shares them.
RATE_LIMITS = {
    "login_per_ip": (30, 300), "login_per_name": (10, 900),
    "password_per_ip": (30, 300), "password_per_name": (10, 900),
    "captcha_per_ip": (60, 60),
    "staff_login_per_ip": (20, 900), "staff_login_per_name": (5, 900),
    "staff_otp_per_ip": (20, 900), "staff_otp_per_name": (5, 900),
    # The public receipt check: enough for a person, far too few to guess codes.
    "receipt_verify_per_ip": (20, 600),
}
