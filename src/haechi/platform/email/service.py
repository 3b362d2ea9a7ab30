"""Render a template into the outbox, send what is pending, park what keeps failing.

The text template's first line is the subject. Values are escaped for the HTML part. A message
is a row before anything is sent; ``send`` moves it to ``sent`` or, after ``max_attempts``
failed tries, to ``dead`` (kept for operators to retry or drop).
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Sequence
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from importlib import resources
from string import Template

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from haechi.core.db import utcnow, write_session
from haechi.core.errors import Conflict, NotFound
from haechi.core.jobs import JobRunner
from haechi.platform.email.mailer import Mailer
from haechi.platform.email.models import Mail
from haechi.platform.txn import after_commit

SEND_MAIL_JOB = "platform.send_mail"
LOCALES = ("en", "ko")
TEMPLATES = (
    "verify-email",
    "reset-password",
    "change-email",
    "invitation",
    "quota-80",
    "quota-100",
    "billing-payment-failed",
    "billing-downgraded",
)


def _template(locale: str, name: str, suffix: str) -> Template:
    folder = resources.files("haechi.platform.email") / "templates" / locale
    return Template((folder / f"{name}.{suffix}").read_text("utf-8"))


def render(name: str, locale: str, values: dict[str, str]) -> tuple[str, str, str]:
    """Subject, plain text and HTML of template ``name`` in ``locale`` (English if unknown)."""
    if name not in TEMPLATES:
        raise ValueError(f"no mail template {name!r}")
    locale = locale if locale in LOCALES else "en"
    text = _template(locale, name, "txt").substitute(values)
    subject, _, body = text.partition("\n")
    escaped = {k: html.escape(v, quote=True) for k, v in values.items()}
    page = _template(locale, name, "html").substitute(escaped)
    return subject.strip(), body.lstrip("\n"), page


async def create(
    db: AsyncSession, *, to: str, template: str, locale: str, values: dict[str, str]
) -> Mail:
    subject, text, page = render(template, locale, values)
    mail = Mail(
        to_address=to,
        template=template,
        subject=subject,
        text_body=text,
        html_body=page,
        status="pending",
        attempts=0,
    )
    db.add(mail)
    await db.flush()
    return mail


async def queue(
    db: AsyncSession,
    *,
    jobs: JobRunner | None,
    to: str,
    template: str,
    locale: str,
    values: dict[str, str],
) -> Mail:
    """Put a mail in the outbox and send it once the transaction has committed."""
    mail = await create(db, to=to, template=template, locale=locale, values=values)
    if jobs is not None:
        mail_id = str(mail.id)
        after_commit(db, lambda: jobs.enqueue(SEND_MAIL_JOB, mail_id=mail_id))
    return mail


def message(mail: Mail, *, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.to_address
    msg["Subject"] = mail.subject
    msg["Message-ID"] = make_msgid(idstring=str(mail.id), domain="haechi")
    msg.set_content(mail.text_body)
    msg.add_alternative(
        f"<!doctype html><html><body>{mail.html_body}</body></html>", subtype="html"
    )
    return msg


async def send(
    db: AsyncSession, *, mail_id: uuid.UUID, mailer: Mailer, sender: str, max_attempts: int
) -> str:
    """One try at a pending mail; its status afterwards. Raises after a failed try that is not
    the last, so the job runner tries again later. Delivery is at least once: the try is
    counted and committed before the SMTP conversation, and no transaction stays open during
    it (SQLite would hold its lock for as long)."""
    await write_session(db)
    mail = await db.get(Mail, mail_id)
    if mail is None or mail.status != "pending":
        return "gone" if mail is None else mail.status
    mail.attempts += 1
    attempt = mail.attempts
    outgoing = message(mail, sender=sender)
    await db.commit()
    try:
        await mailer.send(outgoing)
    except Exception as error:
        await write_session(db)
        mail.last_error = f"{type(error).__name__}: {error}"[:2000]
        if attempt >= max_attempts:
            mail.status = "dead"
            await db.commit()
            return "dead"
        await db.commit()
        raise
    await write_session(db)
    mail.status = "sent"
    mail.sent_at = utcnow()
    mail.last_error = None
    await db.commit()
    return "sent"


async def get_all(
    db: AsyncSession, *, status: str | None = None, limit: int = 100
) -> Sequence[Mail]:
    query = sa.select(Mail).order_by(Mail.created_at.desc(), Mail.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Mail.status == status)
    return (await db.scalars(query)).all()


async def get_dead(db: AsyncSession, *, mail_id: uuid.UUID) -> Mail:
    mail = await db.get(Mail, mail_id)
    if mail is None:
        raise NotFound("no such mail")
    if mail.status != "dead":
        raise Conflict("only mail in the dead-letter state can be retried or dropped")
    return mail


async def retry(db: AsyncSession, *, mail_id: uuid.UUID) -> Mail:
    mail = await get_dead(db, mail_id=mail_id)
    mail.status = "pending"
    mail.attempts = 0
    await db.flush()
    return mail


async def drop(db: AsyncSession, *, mail_id: uuid.UUID) -> None:
    mail = await get_dead(db, mail_id=mail_id)
    await db.delete(mail)
    await db.flush()


async def get_stale_pending(
    db: AsyncSession, *, older_than_seconds: float, limit: int = 500
) -> list[uuid.UUID]:
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    query = (
        sa.select(Mail.id)
        .where(Mail.status == "pending", Mail.updated_at < cutoff)
        .order_by(Mail.created_at)
        .limit(limit)
    )
    return list((await db.scalars(query)).all())
