"""SMTP for real deployments against a real aiosmtpd on loopback, over STARTTLS and implicit
TLS with AUTH, the server's certificate self-signed (made here with ``cryptography``) and
trusted through ``email.smtp.ca_file``. A wrong password parks the mail in the dead-letter
state with everything needed to send it later, and a retry after the fix delivers it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from haechi.core.settings import SmtpSettings
from haechi.platform.email import service
from haechi.platform.email.mailer import SmtpMailer
from haechi.platform.email.models import Mail
from tests.integration.platform.driver import Api
from tests.integration.platform.smtp import Inbox, free_port

pytestmark = pytest.mark.integration

USER, PASSWORD = "haechi", "relay secret"


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "haechi test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "relay.pem", folder / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Auth:
    def __init__(self) -> None:
        self.tries: list[tuple[str, bool]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == USER.encode()
            and data.password == PASSWORD.encode()
        )
        self.tries.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)


class _Relay:
    """aiosmtpd on a free loopback port: ``starttls`` (required before AUTH and MAIL) or
    ``tls`` (TLS from the first byte)."""

    def __init__(self, mode: str, cert: Path, key: Path) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        self.inbox, self.auth, self.port = Inbox(), _Auth(), free_port()
        common: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": self.port,
            "authenticator": self.auth,
            "auth_required": True,
        }
        if mode == "starttls":
            common.update(tls_context=context, require_starttls=True)
        else:
            # TLS from the first byte; aiosmtpd only knows of TLS it negotiated itself
            # (STARTTLS), so it is told that AUTH here is over TLS already.
            common.update(ssl_context=context, auth_require_tls=False)
        self.controller = Controller(self.inbox, **common)

    def __enter__(self) -> _Relay:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _certificate(tmp_path_factory.mktemp("relay"))


def _mailer(port: int, mode: str, ca: Path | None, password: str = PASSWORD) -> SmtpMailer:
    return SmtpMailer(
        SmtpSettings(
            host="127.0.0.1",
            port=port,
            security=mode,  # type: ignore[arg-type]
            username=USER,
            password=password,
            ca_file=ca,
            timeout_seconds=10,
        )
    )


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_delivery_over_tls_with_auth(
    mode: str, certificate: tuple[Path, Path], api: Api
) -> None:
    cert, key = certificate
    with _Relay(mode, cert, key) as relay:
        async with api.db() as db:
            mail = await service.create(
                db,
                to="owner@example.com",
                template="reset-password",
                locale="ko",
                values={
                    "email": "owner@example.com",
                    "minutes": "30",
                    "link": "https://x/?token=t",
                },
            )
        async with api.runtime.sessions() as db:
            status = await service.send(
                db,
                mail_id=mail.id,
                mailer=_mailer(relay.port, mode, cert),
                sender="Haechi <no-reply@example.com>",
                max_attempts=3,
            )
        assert status == "sent"
        received = await relay.inbox.wait_for("owner@example.com", "")
        assert "https://x/?token=t" in relay.inbox.text(received)
        assert relay.auth.tries and relay.auth.tries[-1][1] is True
        # without the relay's CA the certificate is not trusted: nothing is sent
        with pytest.raises(ssl.SSLCertVerificationError):
            await _mailer(relay.port, mode, None).send(service.message(mail, sender="a@b.c"))
        assert len(relay.inbox.messages) == 1


async def test_a_wrong_password_parks_the_mail_and_a_retry_sends_it(
    certificate: tuple[Path, Path], api: Api
) -> None:
    cert, key = certificate
    with _Relay("starttls", cert, key) as relay:
        async with api.db() as db:
            mail = await service.create(
                db,
                to="dev@example.com",
                template="verify-email",
                locale="en",
                values={"email": "dev@example.com", "hours": "24", "link": "https://x/?token=v"},
            )
        wrong = _mailer(relay.port, "starttls", cert, password="not the secret")
        for attempt in (1, 2):
            async with api.runtime.sessions() as db:
                if attempt < 2:
                    with pytest.raises(Exception, match=r"535|Authentication"):
                        await service.send(
                            db, mail_id=mail.id, mailer=wrong, sender="a@b.c", max_attempts=2
                        )
                else:
                    status = await service.send(
                        db, mail_id=mail.id, mailer=wrong, sender="a@b.c", max_attempts=2
                    )
                    assert status == "dead"
        assert relay.inbox.messages == [] and relay.auth.tries
        assert not any(ok for _, ok in relay.auth.tries)
        async with api.db() as db:
            parked = await db.get(Mail, mail.id)
            assert parked is not None and parked.status == "dead" and parked.attempts == 2
            assert "535" in (parked.last_error or "") or "Authentication" in (
                parked.last_error or ""
            )
            assert "https://x/?token=v" in parked.text_body  # nothing of the message is lost
            await service.retry(db, mail_id=mail.id)
        async with api.runtime.sessions() as db:
            status = await service.send(
                db,
                mail_id=mail.id,
                mailer=_mailer(relay.port, "starttls", cert),
                sender="a@b.c",
                max_attempts=2,
            )
        assert status == "sent"
        received = await relay.inbox.wait_for("dev@example.com", "")
        assert "https://x/?token=v" in relay.inbox.text(received)
