"""Response headers every page gets: a strict Content-Security-Policy (no inline script).
Scripts may connect to the bank and to the customer's own U盾 agent only."""

from django.conf import settings


def content_security_policy() -> str:
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"font-src 'self'; connect-src 'self' {settings.USBKEY_AGENT_URL}; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")


PERMISSIONS = "camera=(), microphone=(), geolocation=()"
# A page that asks for the customer's face (FA-08) may use the camera, on this origin only.
CAMERA_PERMISSIONS = "camera=(self), microphone=(), geolocation=()"


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", content_security_policy())
        response.setdefault("Permissions-Policy", PERMISSIONS)
        return response
