"""``haechi dev``: development servers that must never run in production."""

from __future__ import annotations

import os

import click

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
def fake_toss(host: str, port: int, secret_key: str) -> None:
    """A loopback Toss Payments server (billing keys, charges, payments, cancels) for tests and
    the demo; point HAECHI_BILLING__TOSS_API_URL at it."""
    import uvicorn

    from haechi.dev.fake_toss import create_app

    click.echo(f"fake Toss on http://{host}:{port} (card registration: /fake/billing-auth)")
    uvicorn.run(create_app(secret_key), host=host, port=port, log_level="warning")
