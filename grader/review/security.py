"""Who may use the review app, checked before any page is made (Jupyter's model, plus CSRF fields).

Threats: another user of the machine, or any web page open in the instructor's browser, reaching the
app's port. The app listens on 127.0.0.1 only, and:
- every request needs the random token: in the URL once (`/?token=...`, the link `review` prints),
  then in a cookie (HttpOnly, SameSite=Strict) named after a digest of the token, so two review apps
  on one machine do not overwrite each other's cookie; the URL is then redirected without the token;
- the Host header must be the app's own address (a DNS-rebinding page names another host);
- a state-changing request (POST) also needs an Origin (or, without one, a Referer) of the app's own
  address and the form's CSRF field, a second secret that only the app's own pages carry;
- every response forbids framing, sniffing and any script, style or picture not from the app itself.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

TOKEN_PARAM = "token"
CSRF_FIELD = "csrf"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Access:
    """The secrets and the address of one running app."""
    token: str          # in the printed link and the cookie
    csrf: str           # in every form of the app's pages
    host: str           # "127.0.0.1:PORT": the only Host, Origin and Referer accepted

    @classmethod
    def new(cls, host: str) -> Access:
        return cls(secrets.token_urlsafe(32), secrets.token_urlsafe(32), host)

    @property
    def cookie(self) -> str:
        return "dlgrade_review_" + hashlib.sha256(self.token.encode()).hexdigest()[:12]

    def link(self) -> str:
        return f"http://{self.host}/?{TOKEN_PARAM}={self.token}"

    def token_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def host_ok(self, host: str | None) -> bool:
        return host == self.host

    def same_origin(self, origin: str | None, referer: str | None) -> bool:
        """The Origin header, else the Referer, names this app's own address (scheme http)."""
        given = origin if origin and origin != "null" else referer
        if not given:
            return False
        parts = urlsplit(given)
        return parts.scheme == "http" and parts.netloc == self.host

    def csrf_ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.csrf.encode())
