"""Run a real OpenID provider (panva/oidc-provider on Node) for tests, and drive its pages.

`OidcProvider` starts `node tests/oidc/provider.mjs` on a free loopback port and talks to its
test control API (`/__test__/...`). `login_flow` plays the user at the provider's login and
consent pages with a `requests.Session` and hands back the redirect to the relying party
without following it, so the caller can give it to the RP (e.g. a Flask test client).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

OIDC_DIR = Path(__file__).resolve().parent
PROVIDER_SCRIPT = OIDC_DIR / "provider.mjs"
INSTALL_HINT = "run `npm ci --prefix tests/oidc`"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_HOPS = 10


class OidcProviderError(RuntimeError):
    """The test provider could not start, or answered something the harness did not expect."""


class LoginFailedError(OidcProviderError):
    """The provider's login page refused the account id or password."""


def ensure_installed(directory: Path = OIDC_DIR) -> None:
    """Raise a clear error unless `node` and the provider's node_modules are present."""
    if not (directory / "node_modules" / "oidc-provider" / "package.json").is_file():
        raise OidcProviderError(f"oidc-provider is not installed in {directory}: {INSTALL_HINT}")
    if shutil.which("node") is None:
        raise OidcProviderError("`node` (Node.js >= 20.19) is not on PATH")


class OidcProvider:
    """A panva/oidc-provider process with static clients and users, controlled at run time.

    Use as a context manager, or call `start()` / `stop()`. Clients, users and settings given
    here are the baseline that `reset()` returns to.
    """

    def __init__(
        self,
        *,
        clients: Iterable[Mapping[str, Any]] = (),
        users: Mapping[str, Mapping[str, Any]] | None = None,
        settings: Mapping[str, Any] | None = None,
        claims: Mapping[str, list[str]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 15.0,
    ) -> None:
        self._config = {
            "clients": [dict(c) for c in clients],
            "users": {k: dict(v) for k, v in (users or {}).items()},
            "settings": dict(settings or {}),
            "claims": dict(claims or {}),
        }
        self._host = host
        self._port = port
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._log: Any = None
        self._issuer: str | None = None
        self._metadata: dict[str, Any] | None = None
        self._http = requests.Session()
        self._http.trust_env = False  # never send loopback control calls through a proxy

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Self:
        """Start the provider and wait until its discovery document answers."""
        if self._process is not None:
            return self
        ensure_installed()
        self._workdir = Path(tempfile.mkdtemp(prefix="oidc-provider-"))
        config_path = self._workdir / "config.json"
        ready_path = self._workdir / "ready.json"
        config_path.write_text(json.dumps(self._config))
        self._log = (self._workdir / "provider.log").open("wb")
        command = [
            shutil.which("node") or "node",
            str(PROVIDER_SCRIPT),
            "--config",
            str(config_path),
            "--host",
            self._host,
            "--port",
            str(self._port),
            "--ready-file",
            str(ready_path),
            "--watch-stdin",
        ]
        self._process = subprocess.Popen(
            command,
            cwd=OIDC_DIR,
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._issuer = self._wait_ready(ready_path)
            self._metadata = self._get(f"{self._issuer}/.well-known/openid-configuration")
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, ready_path: Path) -> str:
        assert self._process is not None
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if ready_path.exists():
                return str(json.loads(ready_path.read_text())["issuer"])
            if self._process.poll() is not None:
                raise OidcProviderError(
                    f"provider exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            time.sleep(0.02)
        raise OidcProviderError(
            f"provider not ready after {self._startup_timeout}s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stop the process and remove its temporary files. Safe to call twice."""
        process, self._process = self._process, None
        if process is not None:
            if process.stdin:
                process.stdin.close()
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self._http.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the provider printed (stdout and stderr)."""
        if self._workdir is None:
            return ""
        log = self._workdir / "provider.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    # -- discovery ---------------------------------------------------------------------------
    @property
    def issuer(self) -> str:
        """`http://127.0.0.1:<port>`, no trailing slash."""
        if self._issuer is None:
            raise OidcProviderError("provider is not running; call start()")
        return self._issuer

    @property
    def metadata(self) -> dict[str, Any]:
        """The discovery document (`/.well-known/openid-configuration`)."""
        if self._metadata is None:
            raise OidcProviderError("provider is not running; call start()")
        return self._metadata

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def jwks(self) -> dict[str, Any]:
        """The provider's current public JWKS."""
        return self._get(self.metadata["jwks_uri"])

    # -- control API -------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Issuer, client ids, account ids, settings and key ids currently loaded."""
        return self._get(f"{self.issuer}/__test__/health")

    def add_client(
        self,
        client_id: str,
        client_secret: str | None = None,
        *,
        redirect_uris: Iterable[str],
        token_endpoint_auth_method: str | None = None,
        post_logout_redirect_uris: Iterable[str] = (),
        **metadata: Any,
    ) -> dict[str, Any]:
        """Add or replace a client; returns the metadata sent.

        `token_endpoint_auth_method` defaults to `client_secret_basic` with a secret and
        `none` (public client) without. Any other client metadata passes through as is.
        """
        client: dict[str, Any] = {
            "client_id": client_id,
            "redirect_uris": list(redirect_uris),
            "post_logout_redirect_uris": list(post_logout_redirect_uris),
            **metadata,
        }
        if client_secret is not None:
            client["client_secret"] = client_secret
        if token_endpoint_auth_method is not None:
            client["token_endpoint_auth_method"] = token_endpoint_auth_method
        self._post("/__test__/clients", client)
        return client

    def set_users(self, users: Mapping[str, Mapping[str, Any]], *, replace: bool = True) -> None:
        """Load users keyed by account id; with replace=False, merge into the current ones.

        Each entry holds the claims to release (`sub` defaults to the account id) plus the
        optional login keys `password` (checked when present), `amr` and `acr`.
        """
        self._post("/__test__/users", {"users": users, "replace": replace})

    def set_user(self, account_id: str, **claims: Any) -> None:
        """Create or replace one user (whole entry). Shows from the next token issued."""
        self._request("PUT", f"/__test__/users/{account_id}", claims)

    def remove_user(self, account_id: str) -> None:
        self._request("DELETE", f"/__test__/users/{account_id}", None)

    def configure(
        self,
        *,
        id_token_ttl: int | None = None,
        id_token_clock_skew: int | None = None,
        auto_consent: bool | None = None,
    ) -> dict[str, Any]:
        """Change run-time settings; returns the settings now in force.

        id_token_ttl: seconds (positive). id_token_clock_skew: seconds added to the iat/exp of
        id tokens issued from now on (negative gives already-expired tokens, e.g. -3600 with the
        default ttl of 300). auto_consent=False makes login_flow go through the consent form.
        """
        changes = {
            "id_token_ttl": id_token_ttl,
            "id_token_clock_skew": id_token_clock_skew,
            "auto_consent": auto_consent,
        }
        body = {k: v for k, v in changes.items() if v is not None}
        return dict(self._post("/__test__/settings", body)["settings"])

    def rotate_keys(self, *, keep_old: bool = True) -> str:
        """Sign with a new RSA key from now on; returns its kid. Old keys stay in the JWKS
        unless keep_old is False."""
        return str(self._post("/__test__/keys/rotate", {"keep_old": keep_old})["kids"][0])

    def reset(self) -> None:
        """Back to the clients, users and settings given at construction (keys, sessions and
        grants are kept)."""
        self._post("/__test__/reset", {})

    # -- HTTP plumbing -----------------------------------------------------------------------
    def _get(self, url: str) -> dict[str, Any]:
        response = self._http.get(url, timeout=10)
        return _json_or_raise(response)

    def _post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._request("POST", path, body)

    def _request(self, method: str, path: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        response = self._http.request(method, f"{self.issuer}{path}", json=body, timeout=10)
        return _json_or_raise(response)


def _json_or_raise(response: requests.Response) -> dict[str, Any]:
    if not response.ok:
        raise OidcProviderError(
            f"{response.request.method} {response.url} -> {response.status_code}: "
            f"{response.text[:500]}"
        )
    return dict(response.json())


# -- browser-less user agent ---------------------------------------------------------------
class _Form:
    def __init__(self, attrs: Mapping[str, str | None]) -> None:
        self.id = attrs.get("id") or ""
        self.action = attrs.get("action") or ""
        self.method = (attrs.get("method") or "get").lower()
        self.fields: dict[str, str] = {}


class _FormParser(HTMLParser):
    """Collects <form>s with their hidden/text inputs (enough for oidc-provider's pages)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, _Form] = {}
        self._current: _Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self._current = _Form(values)
            self.forms[self._current.id] = self._current
        elif tag == "input" and self._current is not None and values.get("name"):
            self._current.fields[str(values["name"])] = values.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def _forms(response: requests.Response) -> dict[str, _Form]:
    parser = _FormParser()
    parser.feed(response.text)
    return parser.forms


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _provider_error(response: requests.Response, what: str) -> OidcProviderError:
    return OidcProviderError(
        f"{what}: {response.request.method} {response.url} -> {response.status_code}\n"
        f"{response.text[:1500]}"
    )


def _submit(
    session: requests.Session, page: requests.Response, form: _Form, extra: Mapping[str, str]
) -> requests.Response:
    url = urljoin(page.url, form.action)
    return session.post(url, data={**form.fields, **extra}, allow_redirects=False, timeout=10)


def _drive(
    session: requests.Session,
    start_url: str,
    on_page: Any,
) -> str:
    """Follow redirects inside the provider's origin, calling on_page(response, forms) for each
    HTML page; return the first redirect that leaves the provider."""
    origin = _origin(start_url)
    response = session.get(start_url, allow_redirects=False, timeout=10)
    for _ in range(_MAX_HOPS):
        if response.status_code in _REDIRECTS:
            location = urljoin(response.url, response.headers["Location"])
            if _origin(location) != origin:
                return location
            response = session.get(location, allow_redirects=False, timeout=10)
            continue
        response = on_page(response, _forms(response))
    raise _provider_error(response, f"no redirect back to the client after {_MAX_HOPS} steps")


def login_flow(
    session: requests.Session,
    authorize_url: str,
    account_id: str,
    password: str | None = None,
    *,
    consent: bool = True,
) -> str:
    """Sign `account_id` in at the provider and return the redirect back to the client.

    `authorize_url` is where the relying party sent the browser. The provider's cookies land
    in `session`, so a second call with the same session reuses the provider session (no login
    page; the account is then whoever signed in first - use a fresh Session per user). The
    returned URL (`redirect_uri?code=...&state=...&iss=...`, or `?error=...`) is not followed.
    With consent=False a consent form, if shown, is denied.
    """
    state = {"logged_in": False}

    def on_page(page: requests.Response, forms: dict[str, _Form]) -> requests.Response:
        if page.status_code == 401 and "login" in forms:
            raise LoginFailedError(f"provider refused the login of {account_id!r}")
        if page.status_code == 200 and "login" in forms and not state["logged_in"]:
            state["logged_in"] = True
            fields = {"login": account_id, "password": password or ""}
            return _submit(session, page, forms["login"], fields)
        if page.status_code == 200 and "consent" in forms:
            return _submit(session, page, forms["consent" if consent else "abort"], {})
        raise _provider_error(page, "unexpected provider page during login")

    return _drive(session, authorize_url, on_page)


def abort_flow(session: requests.Session, authorize_url: str) -> str:
    """Press "Cancel" on the provider's login page; return the redirect back to the client
    (it carries `error=access_denied`)."""

    def on_page(page: requests.Response, forms: dict[str, _Form]) -> requests.Response:
        if page.status_code == 200 and "abort" in forms:
            return _submit(session, page, forms["abort"], {})
        raise _provider_error(page, "unexpected provider page while aborting")

    return _drive(session, authorize_url, on_page)


def logout_flow(session: requests.Session, end_session_url: str) -> str:
    """Confirm sign-out at the provider's end_session page; return where it redirects next
    (the client's post_logout_redirect_uri with `state`, or the provider's own
    `/session/end/success` page) without following it."""
    page = session.get(end_session_url, allow_redirects=False, timeout=10)
    form = _forms(page).get("op.logoutForm")
    if page.status_code != 200 or form is None:
        raise _provider_error(page, "no sign-out form at end_session")
    response = _submit(session, page, form, {"logout": "yes"})
    if response.status_code not in _REDIRECTS:
        raise _provider_error(response, "sign-out confirmation did not redirect")
    return urljoin(response.url, response.headers["Location"])


def query_params(url: str) -> dict[str, str]:
    """The query of a redirect URL as a flat dict (first value of each key)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
