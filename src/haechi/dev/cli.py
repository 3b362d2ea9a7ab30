"""``haechi dev``: development servers that must never run in production."""

from __future__ import annotations

import os

import click

from haechi.dev.fake_oidc import TEST_CLIENT_ID, TEST_CLIENT_SECRET
from haechi.dev.fake_toss import TEST_SECRET_KEY


def _production() -> bool:
    """HAECHI_ENV=production in the environment or .env; unreadable settings count as such."""
    if os.environ.get("HAECHI_ENV", "").strip().lower() == "production":
        return True
    from haechi.core.settings import Settings

    try:
        return Settings().env == "production"
    except Exception:
        return True


@click.group()
def dev() -> None:
    """Development aids (refused when HAECHI_ENV=production)."""
    if _production():
        raise click.ClickException("haechi dev is refused when HAECHI_ENV=production")


@dev.command("fake-toss")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8099, show_default=True, type=int)
@click.option(
    "--secret-key",
    default=TEST_SECRET_KEY,
    show_default=True,
    help="The secret key clients must send (HAECHI_BILLING__TOSS_SECRET_KEY on their side).",
)
@click.option(
    "--webhook-url",
    default=None,
    help="Deliver PAYMENT_STATUS_CHANGED events here, e.g. "
    "http://127.0.0.1:8080/api/v1/billing/webhooks/toss (none: events are not delivered).",
)
@click.option("--webhook-retries", default=7, show_default=True, type=click.IntRange(0, 20))
@click.option(
    "--webhook-backoff", default=0.5, show_default=True, type=float, help="First retry wait (s)."
)
@click.option(
    "--webhook-duplicates",
    default=0,
    show_default=True,
    type=click.IntRange(0, 5),
    help="Extra deliveries of every event.",
)
@click.option("--webhook-shuffle", is_flag=True, help="Deliver each batch in random order.")
def fake_toss(
    host: str,
    port: int,
    secret_key: str,
    webhook_url: str | None,
    webhook_retries: int,
    webhook_backoff: float,
    webhook_duplicates: int,
    webhook_shuffle: bool,
) -> None:
    """A loopback Toss Payments server (billing keys, charges, payments, cancels, webhooks) for
    tests and the demo; point HAECHI_BILLING__TOSS_API_URL at it."""
    import uvicorn

    from haechi.dev.fake_toss import Webhooks, create_app

    hooks = Webhooks(
        url=webhook_url,
        retries=webhook_retries,
        backoff=webhook_backoff,
        duplicates=webhook_duplicates,
        shuffle=webhook_shuffle,
    )
    click.echo(f"fake Toss on http://{host}:{port} (card registration: /fake/billing-auth)")
    uvicorn.run(create_app(secret_key, hooks), host=host, port=port, log_level="warning")


@dev.command("fake-oidc")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8098, show_default=True, type=int)
@click.option("--client-id", default=TEST_CLIENT_ID, show_default=True)
@click.option("--client-secret", default=TEST_CLIENT_SECRET, show_default=True)
def fake_oidc(host: str, port: int, client_id: str, client_secret: str) -> None:
    """A loopback OpenID provider (discovery, JWKS, code flow with PKCE, signed ID tokens) for
    Google sign-in in tests and the demo; point HAECHI_PLATFORM__GOOGLE_DISCOVERY_URL at its
    /.well-known/openid-configuration and set the client id and secret to these."""
    import uvicorn

    from haechi.dev.fake_oidc import create_app

    issuer = f"http://{host}:{port}"
    click.echo(f"fake OpenID provider on {issuer} (discovery: /.well-known/openid-configuration)")
    uvicorn.run(
        create_app(issuer, client_id, client_secret), host=host, port=port, log_level="warning"
    )
