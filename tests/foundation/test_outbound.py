"""The outbound guard (app/outbound.py): which URLs the portal will call for a customer, and
that the connection goes to the address that was checked."""

from __future__ import annotations

import http.server
import io
import threading
from collections.abc import Iterator

import pytest
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util import connection as urllib3_connection

from app import outbound
from app.outbound import OutboundRefusedError, Policy

PUBLIC = "93.184.215.14"  # a globally routable address (nothing is ever sent to it here)
STRICT = outbound.STRICT


@pytest.fixture
def dns(monkeypatch) -> dict[str, list[list[str]]]:
    """A fake resolver: host -> successive answers (the last one repeats); records lookups."""
    answers: dict[str, list[list[str]]] = {}
    lookups: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        if host not in answers:
            raise OSError("no such host")
        queue = answers[host]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    monkeypatch.setattr(outbound, "resolve", resolve)
    answers["lookups"] = lookups  # type: ignore[assignment]
    return answers


@pytest.fixture
def connections(monkeypatch) -> list[tuple[str, int]]:
    """Record where urllib3 would open a socket, and open none."""
    seen: list[tuple[str, int]] = []

    def create_connection(address, *args, **kwargs):
        seen.append(address)
        raise OSError("the test network goes nowhere")

    monkeypatch.setattr(urllib3_connection, "create_connection", create_connection)
    return seen


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.5/.well-known/openid-configuration",
        "https://172.16.3.4/",
        "https://192.168.1.1/",
        "https://127.0.0.1/",
        "https://[::1]/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fe80::1]/",
        "https://0.0.0.0/",
        "https://[::]/",
        "https://224.0.0.1/",
        "https://[ff02::1]/",
        "https://100.64.0.1/",  # carrier-grade NAT
        "https://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
        "https://[::ffff:a9fe:a9fe]/",  # 169.254.169.254, mapped and in hex
        "https://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
        "https://2130706433/",  # 127.0.0.1 in decimal
        "https://0x7f.1/",  # in hex, short form
        "https://0177.0.0.1/",  # in octal
        "https://127.1/",
        "https://0x7f000001/",
    ],
)
def test_internal_addresses_and_odd_spellings_are_refused(url, dns):
    with pytest.raises(OutboundRefusedError):
        outbound.check_url(url, STRICT)
    assert dns["lookups"] == []  # refused from the URL alone, nothing resolved


def test_plain_http_needs_the_development_setting(dns):
    dns["login.example.com"] = [[PUBLIC]]
    with pytest.raises(OutboundRefusedError, match="https"):
        outbound.check_url("http://login.example.com/", STRICT)
    assert outbound.check_url("http://login.example.com/", Policy(allow_http=True)).address == (
        PUBLIC
    )
    with pytest.raises(OutboundRefusedError):
        outbound.check_url("file:///etc/passwd", Policy(allow_http=True, allow_private=True))


def test_a_name_is_refused_when_any_of_its_addresses_is_internal(dns):
    dns["split.example.com"] = [[PUBLIC, "10.0.0.7"]]
    with pytest.raises(OutboundRefusedError, match=r"internal address \(10\.0\.0\.7\)"):
        outbound.check_url("https://split.example.com/", STRICT)
    dns["mapped.example.com"] = [["::ffff:127.0.0.1"]]
    with pytest.raises(OutboundRefusedError, match="internal address"):
        outbound.check_url("https://mapped.example.com/", STRICT)


def test_a_public_name_passes_and_names_the_address_to_connect_to(dns):
    dns["login.example.com"] = [[PUBLIC]]
    target = outbound.check_url("https://login.example.com:8443/x", STRICT)
    assert (target.host, target.port, target.address) == ("login.example.com", 8443, PUBLIC)


def test_the_development_setting_allows_private_addresses(dns):
    dns["idp.local"] = [["127.0.0.1"]]
    policy = Policy(allow_private=True, allow_http=True)
    assert outbound.check_url("http://idp.local:8080/", policy).address == "127.0.0.1"
    assert outbound.check_url("http://10.1.2.3/", policy).address == "10.1.2.3"


def test_a_dns_answer_that_changes_after_the_check_reaches_only_the_checked_address(
    dns, connections
):
    """DNS rebinding: public at the check, 127.0.0.1 a moment later. The connection goes to the
    address that was checked; the second answer is never asked for, let alone used."""
    dns["rebind.example.com"] = [[PUBLIC], ["127.0.0.1"]]
    with pytest.raises(requests.ConnectionError):
        outbound.session(STRICT).get("https://rebind.example.com/jwks", timeout=1)
    assert connections == [(PUBLIC, 443)]
    assert dns["lookups"] == ["rebind.example.com"]


def test_tls_is_for_the_host_name_while_the_socket_goes_to_the_address(dns):
    dns["login.example.com"] = [[PUBLIC]]
    adapter = outbound.GuardedAdapter(STRICT)
    request = requests.Request("GET", "https://login.example.com/x").prepare()
    request.outbound_target = outbound.check_url(request.url, STRICT)  # type: ignore[attr-defined]
    host_params, pool_kwargs = adapter.build_connection_pool_key_attributes(request, True)
    assert host_params["host"] == PUBLIC
    assert pool_kwargs["server_hostname"] == "login.example.com"
    assert pool_kwargs["assert_hostname"] == "login.example.com"
    unchecked = requests.Request("GET", "https://login.example.com/x").prepare()
    with pytest.raises(OutboundRefusedError):
        adapter.build_connection_pool_key_attributes(unchecked, True)


def test_a_redirect_to_an_internal_address_is_refused(dns, monkeypatch):
    dns["idp.example.com"] = [[PUBLIC]]
    sent: list[str] = []

    def send(self, request, *args, **kwargs):  # the network below the guard
        sent.append(request.url)
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(b""),
            status=302,
            headers={"Location": "https://169.254.169.254/latest/meta-data/iam/"},
            preload_content=False,
        )
        return self.build_response(request, raw)

    monkeypatch.setattr(HTTPAdapter, "send", send)
    with pytest.raises(OutboundRefusedError, match=r"169\.254\.169\.254"):
        outbound.session(STRICT).get("https://idp.example.com/.well-known/openid-configuration")
    assert sent == ["https://idp.example.com/.well-known/openid-configuration"]


class _Recorder(http.server.BaseHTTPRequestHandler):
    hosts: list[str] = []

    def do_GET(self):
        self.hosts.append(self.headers["Host"])
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.hosts = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_pinned_request_reaches_the_server_with_its_own_host_header(dns, local_server):
    dns["idp.internal.test"] = [["127.0.0.1"]]
    url = f"http://idp.internal.test:{local_server}/ping"
    with outbound.session(Policy(allow_private=True, allow_http=True)) as session:
        response = session.get(url, timeout=5)
    assert response.json() == {"ok": True}
    assert _Recorder.hosts == [f"idp.internal.test:{local_server}"]
    with (
        outbound.session(Policy(allow_http=True)) as strict,
        pytest.raises(OutboundRefusedError, match="internal address"),
    ):
        strict.get(url, timeout=5)
    assert len(_Recorder.hosts) == 1
