"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def text(self, message: EmailMessage) -> str:
        part = message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    async def wait_for(self, to: str, subject_has: str, within: float = 10.0) -> EmailMessage:
        import asyncio

        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for message in reversed(self.messages):
                if to in str(message["To"]) and subject_has in str(message["Subject"]):
                    return message
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"no mail to {to} about {subject_has!r}: {[m['Subject'] for m in self.messages]}"
        )


class SmtpServer:
    def __init__(self, **kwargs: Any) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
