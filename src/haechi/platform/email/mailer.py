"""One mailer interface, two implementations: SMTP (STARTTLS, TLS or plain, with optional
login) for deployments, and a sink writing ``.eml`` files into ``<data dir>/mail`` (embedded).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from haechi.core.settings import Settings, SmtpSettings


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` or raise; the outbox decides about retries."""


class FileMailer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        await asyncio.to_thread((self.folder / name).write_bytes, message.as_bytes())


class SmtpMailer:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _send(self, message: EmailMessage) -> None:
        s = self.settings
        context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        smtp: smtplib.SMTP
        if s.security == "tls":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        with smtp:
            if s.security == "starttls":
                smtp.starttls(context=context)
            if s.username:
                smtp.login(s.username, s.password)
            smtp.send_message(message)

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)


def create_mailer(settings: Settings) -> Mailer:
    if settings.email.backend == "smtp":
        return SmtpMailer(settings.email.smtp)
    return FileMailer(settings.data_dir / "mail")
