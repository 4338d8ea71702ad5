"""The guard on outbound calls to addresses a customer typed (identity providers; webhooks next).

An organization admin can type any URL into a setting the portal later fetches from the server.
Without this guard that is a way to make the portal call its own network: the cloud metadata
service at 169.254.169.254, Redis on 127.0.0.1, an admin page on 10.x. So, for every request:

- the scheme must be https (http only when the policy allows it: development and tests);
- a host written as a number in a spelling other than the plain dotted quad (2130706433,
  0x7f.1, 0177.0.0.1, 127.1) is refused outright;
- the host is resolved once and EVERY address it resolves to must be public (not private,
  loopback, link-local, multicast, unspecified, reserved or shared; an IPv4-mapped or
  IPv4-compatible IPv6 address is judged by the IPv4 address inside it);
- the connection then goes to the address that was checked (pinned), while the request still
  carries the original Host header, SNI and certificate check for the host name, so a DNS
  answer that changes between the check and the connection (rebinding) reaches nothing new;
- each redirect is a new request through the same guard, so a redirect to an internal address
  is refused like a typed one; environment proxies are ignored.

`OUTBOUND_ALLOW_PRIVATE` and `OUTBOUND_ALLOW_HTTP` (config.py) loosen it for development and
tests, whose identity provider runs on 127.0.0.1 over http. No Flask here: callers pass the
policy (`policy_from(config)`).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_REDIRECTS = 3
RESOLVE_SECONDS = 5.0
# NAT64 (RFC 6052) carries an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundRefusedError(requests.exceptions.ConnectionError):
    """A URL the guard will not call; the message is written for the person who typed it.

    A requests ConnectionError, so code that already handles an unreachable server handles
    this too."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnresolvedHostError(OutboundRefusedError):
    """The host name has no address (now): nothing was called."""


@dataclass(frozen=True)
class Policy:
    allow_private: bool = False  # loopback, private, link-local... (development and tests)
    allow_http: bool = False  # plain http besides https (development and tests)

    @property
    def schemes(self) -> tuple[str, ...]:
        return ("https", "http") if self.allow_http else ("https",)


STRICT = Policy()


def policy_from(config: Mapping[str, Any]) -> Policy:
    return Policy(
        allow_private=bool(config.get("OUTBOUND_ALLOW_PRIVATE", False)),
        allow_http=bool(config.get("OUTBOUND_ALLOW_HTTP", False)),
    )


# -- checks -------------------------------------------------------------------------------------
def resolve(host: str, port: int) -> list[str]:
    """Every address the host name resolves to (tests replace this to play DNS), within
    RESOLVE_SECONDS: the resolver's own retries could otherwise take far longer."""
    answer: list[Any] = []
    asking = threading.Thread(
        target=lambda: answer.append(_getaddrinfo(host, port)), name="outbound-dns", daemon=True
    )
    asking.start()
    asking.join(RESOLVE_SECONDS)
    if not answer:  # still asking: the thread ends with the resolver, nobody waits for it
        raise UnresolvedHostError(
            f"The host name {host!r} did not resolve within {RESOLVE_SECONDS:g} s."
        )
    if isinstance(answer[0], BaseException):
        raise answer[0]
    return list(dict.fromkeys(str(info[4][0]) for info in answer[0]))


def _getaddrinfo(host: str, port: int) -> Any:
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return exc


def is_public(address: IPAddress) -> bool:
    """True only for a globally routable unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or _ipv4_compatible(address) or _nat64(address)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_reserved
    )


def _ipv4_compatible(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """::a.b.c.d (deprecated IPv4-compatible form); some stacks still route it to IPv4."""
    if int(address) >> 32 == 0 and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _odd_numeric_spelling(host: str) -> bool:
    """2130706433, 0x7f.1, 0177.0.0.1, 127.1: numbers the C resolver reads as IPv4 addresses
    though they are not written as one. Nobody types them by accident."""
    try:
        socket.inet_aton(host)
    except (OSError, ValueError):
        return False
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return True
    return False


@dataclass(frozen=True)
class Target:
    """A URL that passed the guard, and the address the connection must go to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def check_scheme(url: str, policy: Policy = STRICT) -> None:
    parts = urlsplit(url)
    if parts.scheme not in policy.schemes or not parts.hostname:
        allowed = " or ".join(policy.schemes)
        raise OutboundRefusedError(f"{url!r} is not an absolute {allowed} URL.")


def check_url(url: str, policy: Policy = STRICT) -> Target:
    """Resolve `url`'s host and check every address; the Target names the one to connect to."""
    check_scheme(url, policy)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if _odd_numeric_spelling(host):
        raise OutboundRefusedError(
            f"{host!r} is an IP address in an unusual spelling; use the server's host name."
        )
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolve(host, port)
        except UnresolvedHostError:
            raise
        except (OSError, UnicodeError):
            raise UnresolvedHostError(f"The host name {host!r} could not be resolved.") from None
        if not addresses:
            raise UnresolvedHostError(f"The host name {host!r} could not be resolved.")
    if not policy.allow_private:
        for address in addresses:
            if not is_public(ipaddress.ip_address(address.split("%", 1)[0])):
                raise OutboundRefusedError(
                    f"{host} points to an internal address ({address}); the portal only "
                    "calls servers on the public internet."
                )
    return Target(url=url, scheme=parts.scheme, host=host, port=port, address=addresses[0])


# -- requests -----------------------------------------------------------------------------------
class GuardedAdapter(HTTPAdapter):
    """A requests adapter that checks each request's URL and connects to the checked address."""

    def __init__(self, policy: Policy, **kwargs: Any) -> None:
        self.policy = policy
        super().__init__(**kwargs)

    def send(self, request, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        target = check_url(request.url, self.policy)
        netloc = urlsplit(request.url).netloc.rsplit("@", 1)[-1]
        request.headers["Host"] = netloc
        request.outbound_target = target  # read by build_connection_pool_key_attributes
        return super().send(request, *args, **kwargs)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):  # type: ignore[no-untyped-def]
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        target: Target | None = getattr(request, "outbound_target", None)
        if target is None:  # never sent through send(): refuse rather than connect unchecked
            raise OutboundRefusedError("An outbound request skipped the address check.")
        host_params["host"] = target.address
        if target.scheme == "https":
            # TLS still speaks to, and verifies the certificate of, the host name.
            pool_kwargs["server_hostname"] = target.host
            pool_kwargs["assert_hostname"] = target.host
        return host_params, pool_kwargs


def guard(session: requests.Session, policy: Policy) -> requests.Session:
    """Route every request of `session` through the guard (in place; returns it)."""
    adapter = GuardedAdapter(policy)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = False  # an environment proxy would connect where it likes
    session.max_redirects = MAX_REDIRECTS
    return session


def session(policy: Policy) -> requests.Session:
    """A new requests session whose every request (redirects included) passes the guard."""
    return guard(requests.Session(), policy)
