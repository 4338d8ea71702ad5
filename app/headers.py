"""Security headers on every answer, set in one place (an after_request hook).

Pages get a Content-Security-Policy without 'unsafe-inline': the templates carry no inline
script, style block, `style=` attribute or event handler, so everything the browser runs or
styles comes from /static. Company sign-in leaves the portal for the identity provider through
an interstitial page (app/federation/flow.py), not a redirect after a form post, so
`form-action 'self'` holds for it too (browsers check form-action on every redirect that
follows a form submission).

Every answer, pages and JSON alike, gets nosniff, the frame and referrer headers and the
permissions policy; Strict-Transport-Security only where HSTS_SECONDS is set (production).
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # The MFA set-up page draws its QR code as inline SVG; data: covers favicons and images
        # a future page may inline.
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
# API answers are never rendered as pages: they need no sources at all.
API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
}

HTML_TYPES = ("text/html",)


def security_headers(response: Response, *, hsts_seconds: int = 0) -> Response:
    """Add the headers to `response` (a view that set its own keeps it)."""
    for name, value in ALWAYS.items():
        response.headers.setdefault(name, value)
    is_page = (response.mimetype or "") in HTML_TYPES
    response.headers.setdefault(
        "Content-Security-Policy",
        CONTENT_SECURITY_POLICY if is_page else API_CONTENT_SECURITY_POLICY,
    )
    if hsts_seconds > 0:
        response.headers.setdefault(
            "Strict-Transport-Security", f"max-age={hsts_seconds}; includeSubDomains"
        )
    return response


def init_app(app: Flask) -> None:
    hsts_seconds = int(app.config.get("HSTS_SECONDS") or 0)

    @app.after_request
    def _add_security_headers(response: Response) -> Response:
        return security_headers(response, hsts_seconds=hsts_seconds)
