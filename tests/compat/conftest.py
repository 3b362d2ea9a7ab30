"""The compatibility matrix: the vendors' own client libraries against a live `haechi serve`.

Each library verifies a fresh token through its dialect, then the same token again: accepted
once, refused the second time with that vendor's error code. Server libraries get tokens from
/v1/challenge and /v1/solve, asked for as the compat scripts ask (``api``, ``action``, ``cdata``);
browser cases get them from the widgets. The site is at the ``test`` security level.

Needs the `compat` extra (`pip install -e '.[compat]'`), `npm ci` in tests/compat (Node
libraries, React wrappers), `php-cli` + `php-google-recaptcha` (apt) and Chromium for the browser
cases. Missing pieces skip their tests, or fail them when HAECHI_TEST_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import ipaddress
import json
import os
import select
import socket
import socketserver
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from haechi.protocol import pow as pow_
from tests.e2e.test_widget_browser import LIGHT_BANDS, Haechi, start_haechi

COMPAT = Path(__file__).parent
NODE_MODULES = COMPAT / "node_modules"
REQUIRE = os.environ.get("HAECHI_TEST_REQUIRE_SERVICES") == "1"
ORIGIN = "http://localhost"

# The vendors' published codes for a token verified a second time.
REPLAY_CODE = {
    "recaptcha": "timeout-or-duplicate",
    "hcaptcha": "already-seen-response",
    "turnstile": "timeout-or-duplicate",
}
PATHS = {
    "recaptcha": "/recaptcha/api/siteverify",
    "hcaptcha": "/hcaptcha/siteverify",
    "turnstile": "/turnstile/v0/siteverify",
}


def need(what: str, install: str) -> None:
    """Skip (or, in CI, fail) a test whose client library is not installed."""
    message = f"compat tests need {what}; install with: {install}"
    if REQUIRE:
        pytest.fail(message)
    pytest.skip(message)


def need_module(name: str) -> None:
    import importlib.util

    if importlib.util.find_spec(name) is None:
        need(f"the Python package {name}", "pip install -e '.[compat]'")


def need_node() -> None:
    if not (NODE_MODULES / ".package-lock.json").is_file():
        need("the npm packages of tests/compat", "cd tests/compat && npm ci")


@dataclass
class Server:
    haechi: Haechi
    sitekey: str
    secret: str

    @property
    def url(self) -> str:
        return self.haechi.url

    def mint(self, **fields: str) -> str:
        """A fresh token for the demo site, asked for as a widget asks (``api``, ``action``, …)."""
        headers = {"origin": ORIGIN}
        with httpx.Client(base_url=self.url, headers=headers, timeout=20) as http:
            reply = http.post("/v1/challenge", json={"v": 1, "sitekey": self.sitekey, **fields})
            assert reply.status_code == 200, reply.text
            challenge = reply.json()
            assert challenge["task"] is None, challenge
            p = challenge["pow"]
            nonces = pow_.solve(pow_.PowParams(p["prefix"].split(":")[1], p["bits"], p["count"]))
            body = {"v": 1, "challenge": challenge["challenge"], "solution": {"pow": nonces}}
            outcome = http.post("/v1/solve", json=body).json()
        assert outcome["outcome"] == "token", outcome
        token: str = outcome["token"]
        return token

    def siteverify(self, vendor: str, token: str, secret: str | None = None) -> dict[str, Any]:
        form = {"secret": secret or self.secret, "response": token}
        body: dict[str, Any] = httpx.post(self.url + PATHS[vendor], data=form, timeout=10).json()
        return body


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the matrix and a site at the friction-free ``test`` security level (its
    first band's proof-of-work, made light here), on the pages' hostname."""
    for haechi in start_haechi(tmp_path_factory.mktemp("compat"), HAECHI_POLICY__BANDS=LIGHT_BANDS):
        created = haechi.cli(
            "sites", "create", "--name", "Compat matrix", "--hostname", "localhost",
            "--security-level", "test", "--json",
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        site = json.loads(created.stdout)
        assert site["security_level"] == "test", site
        yield Server(haechi, site["sitekey"], site["secret"])


# ------------------------------------------------------------------------------ TLS in front


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, and its key (the certificate is its own CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class TlsFront:
    """Haechi behind TLS, as django-recaptcha and drf-recaptcha need it (they always use https)."""

    host: str  # "localhost:PORT", what RECAPTCHA_DOMAIN takes
    ca_file: Path


@pytest.fixture(scope="session")
def tls_front(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsFront]:
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    backend = ("127.0.0.1", server.haechi.port)

    class Pipe(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            try:
                front = context.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError):
                return
            with front, socket.create_connection(backend) as back:
                sockets = [front, back]
                while True:
                    ready, _, _ = select.select(sockets, [], [], 30)
                    if not ready:
                        return
                    for sock in ready:
                        try:
                            data = sock.recv(65536)
                        except ssl.SSLWantReadError:
                            continue
                        if not data:
                            return
                        (back if sock is front else front).sendall(data)

    proxy = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Pipe)
    proxy.daemon_threads = True
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    yield TlsFront(f"localhost:{proxy.server_address[1]}", cert)
    proxy.shutdown()
    proxy.server_close()


@pytest.fixture
def trust(tls_front: TlsFront, monkeypatch: pytest.MonkeyPatch) -> TlsFront:
    """Python's default TLS context (urllib's) trusts the front's certificate in this test."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_front.ca_file))
    return tls_front


# ------------------------------------------------------------------------------ Django


@pytest.fixture(scope="session")
def django_settings(tls_front: TlsFront, server: Server) -> None:
    need_module("django_recaptcha")
    need_module("drf_recaptcha")
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="compat-tests",
            INSTALLED_APPS=["django_recaptcha", "rest_framework", "drf_recaptcha"],
            # What the docs tell a site behind TLS to set: Haechi's host (and port), no scheme.
            RECAPTCHA_DOMAIN=tls_front.host,
            DRF_RECAPTCHA_DOMAIN=tls_front.host,
            RECAPTCHA_PUBLIC_KEY=server.sitekey,
            RECAPTCHA_PRIVATE_KEY=server.secret,
            DRF_RECAPTCHA_SECRET_KEY=server.secret,
        )
        django.setup()


def drf_validate(field_class: type, token: str, **kwargs: Any) -> tuple[bool, Any]:
    from rest_framework import serializers
    from rest_framework.test import APIRequestFactory

    class Form(serializers.Serializer):  # type: ignore[type-arg]
        recaptcha = field_class(**kwargs)

    request = APIRequestFactory().post("/signup", {}, REMOTE_ADDR="203.0.113.9")
    form = Form(data={"recaptcha": token}, context={"request": request})
    return form.is_valid(), form


# ------------------------------------------------------------------------------ Node


NodeRunner = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def node(server: Server) -> NodeRunner:
    def run(lib: str, token: str, **overrides: str) -> dict[str, Any]:
        need_node()
        args = {
            "lib": lib,
            "base": server.url,
            "sitekey": server.sitekey,
            "secret": server.secret,
            "token": token,
            **overrides,
        }
        done = subprocess.run(
            ["node", str(COMPAT / "node" / "verify.cjs"), json.dumps(args)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    return run
