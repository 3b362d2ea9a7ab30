"""The ``haechi`` command. Its flags and output formats are a contract other tooling relies on."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from haechi import __version__
from haechi.challenges.cli import challenges
from haechi.core.files import private_dir
from haechi.core.settings import Settings
from haechi.dev.cli import dev
from haechi.platform.cli import COMMANDS as PLATFORM_COMMANDS
from haechi.risk.cli import risk

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as error:
        raise click.ClickException(f"bad settings: {error}") from None


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(factory())  # type: ignore[arg-type]


@click.group()
@click.version_option(__version__, prog_name="haechi")
def main() -> None:
    """Haechi: an open-source, self-hostable CAPTCHA service."""


# ------------------------------------------------------------------------------ serve


def _hot_path() -> str:
    from haechi import compiled

    return "compiled (make compile)" if compiled.active() else "interpreted"


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--role",
    type=click.Choice(["all", "edge", "platform"]),
    default=None,
    help="Which role this process serves (default: HAECHI_ROLE or all).",
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--server",
    type=click.Choice(["uvicorn", "granian"]),
    default="uvicorn",
    show_default=True,
    help="HTTP server: uvicorn (httptools + uvloop), or granian (Rust HTTP; extra 'granian').",
)
def serve(host: str, port: int, role: str | None, workers: int, server: str) -> None:
    """Run the HTTP server (embedded defaults: SQLite, in-process store and jobs)."""
    from haechi.core import logging as haechi_logging

    if server == "granian" and importlib.util.find_spec("granian") is None:
        raise click.ClickException("--server granian needs: pip install 'haechi[granian]'")

    if role is not None:
        os.environ["HAECHI_ROLE"] = role
    settings = _settings()
    if workers > 1 and settings.store.is_memory:
        raise click.ClickException(
            "the in-process store holds spent tokens and rate limits in one process; "
            "use --workers 1, or set HAECHI_STORE__URL=redis://... to run several workers"
        )
    if workers > 1 and settings.jobs.backend == "inprocess":
        raise click.ClickException(
            "in-process jobs would run once per worker; set HAECHI_JOBS__BACKEND=redis"
        )
    haechi_logging.configure(settings.log.level, settings.log.json_format)
    private_dir(settings.data_dir)
    # Migrate once here, not once per worker.
    if settings.db.auto_migrate:
        from haechi.core.db import migrate

        asyncio.run(migrate(settings.database_url))
    os.environ["HAECHI_DB__AUTO_MIGRATE"] = "false"
    click.echo(
        f"haechi {__version__} serving role={settings.role} on http://{host}:{port} "
        f"(data: {settings.data_dir.resolve()}, store: {settings.store.url}, "
        f"hot path: {_hot_path()})",
        err=True,
    )
    if settings.role == "all":
        # A wildcard address is not one a browser can open; loopback is.
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        shown = f"[{shown}]" if ":" in shown else shown
        click.echo(
            f"demo: http://{shown}:{port}/demo (a sign-up form protected by the widget; its "
            f"sitekey and secret are in {settings.data_dir.resolve() / 'demo-site.json'})",
            err=True,
        )
    if server == "granian":
        _serve_granian(host, port, workers, settings)
        return
    import uvicorn

    uvicorn.run(
        "haechi.app:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,  # client IP is decided by trusted_proxies, not by uvicorn
        server_header=False,
        # httptools with a response's writes sent in one system call and each connection held
        # to settings.server's limits (haechi.core.http).
        http="haechi.core.http:HttpToolsProtocol",
    )


def _serve_granian(host: str, port: int, workers: int, settings: Settings) -> None:
    """The same ASGI app under Granian: HTTP parsing and socket I/O in Rust, the app on uvloop.
    See docs/decisions/0005-server-process.md for when to pick it. Of ``settings.server`` it
    applies the head timeout and a read buffer of the head size (docs/operations.md)."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    limits = settings.server

    Granian(
        "haechi.app:serve_app",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(limits.header_timeout_seconds * 1000),
            max_buffer_size=limits.max_header_bytes,
        ),
        websockets=False,
        factory=True,
        # Haechi logs in JSON itself (haechi.core.logging); Granian's own lines stay quiet.
        log_enabled=True,
        log_level=LogLevels.warning,
        log_access=False,
    ).serve()


@main.command()
def worker() -> None:
    """Run background jobs from the Redis queue (HAECHI_JOBS__BACKEND=redis)."""
    from haechi.core import logging as haechi_logging
    from haechi.runtime import Runtime

    settings = _settings()
    if settings.jobs.backend != "redis":
        raise click.ClickException(
            "in-process jobs run inside `haechi serve`; set HAECHI_JOBS__BACKEND=redis "
            "to run them in separate workers"
        )
    haechi_logging.configure(settings.log.level, settings.log.json_format)

    async def work() -> None:
        runtime = Runtime.build(settings)
        try:
            await runtime.job_runner(start_worker=True).worker()  # type: ignore[attr-defined]
        finally:
            await runtime.close()

    asyncio.run(work())


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema to the newest revision."""
    from haechi.core.db import migrate as run_migrate

    settings = _settings()
    private_dir(settings.data_dir)
    asyncio.run(run_migrate(settings.database_url))
    click.echo("database is at the newest revision", err=True)


# ------------------------------------------------------------------------------ sites


@main.group()
def sites() -> None:
    """Register sites and manage their keys."""


async def _with_runtime(work: Callable[[Any], Awaitable[T]]) -> T:
    from haechi.runtime import Runtime

    settings = _settings()
    private_dir(settings.data_dir)
    runtime = Runtime.build(settings)
    try:
        if settings.db.auto_migrate:
            from haechi.core.db import migrate as run_migrate

            await run_migrate(settings.database_url)
        return await work(runtime)
    finally:
        await runtime.store.close()
        await runtime.engine.dispose()


def _print_site(site: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(site))
        return
    for name, value in site.items():
        click.echo(f"{name:>10}: {value}")


@sites.command("create")
@click.option("--name", required=True)
@click.option("--hostname", "hostnames", multiple=True, required=True)
@click.option(
    "--security-level",
    type=click.Choice(["low", "medium", "high", "strict", "test"]),
    help="test: proof-of-work only, no visual task, no automation denial (tests and staging; "
    "refused when HAECHI_ENV=production unless HAECHI_POLICY__ALLOW_TEST_LEVEL=true).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def sites_create(
    name: str, hostnames: tuple[str, ...], security_level: str | None, as_json: bool
) -> None:
    """Create a site; prints its sitekey and secret (the secret is shown only this once)."""
    from pydantic import ValidationError

    from haechi.platform.sites import schemas
    from haechi.platform.sites import service as site_service

    try:
        fields: dict[str, Any] = {"name": name, "hostnames": list(hostnames)}
        if security_level:
            fields["security_level"] = security_level
        data = schemas.SiteCreate(**fields)
    except ValidationError as error:
        raise click.ClickException(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        ) from None

    async def work(runtime: Any) -> dict[str, Any]:
        from haechi.core.errors import Forbidden
        from haechi.risk.policy import allows_test_level

        async with runtime.sessions() as session:
            org = await site_service.get_or_create_default_org(session)
            try:
                site, secret = await site_service.create(
                    session,
                    org=org,
                    data=data,
                    pepper=runtime.pepper,
                    allow_test_level=allows_test_level(runtime.settings),
                )
            except Forbidden as error:
                raise click.ClickException(error.message) from None
            await session.commit()
            return {
                "sitekey": site.sitekey,
                "secret": secret,
                "name": site.name,
                "hostnames": list(site.hostnames),
                "security_level": site.security_level,
            }

    site = _run(lambda: _with_runtime(work))
    _print_site(site, as_json)
    if not as_json:
        click.echo("Keep the secret now: it is stored only as a digest.", err=True)
    if site["security_level"] == "test":
        click.echo(
            "Security level test: proof-of-work only, no visual task, no automation denial. "
            "For tests and staging, never for a site that needs protecting.",
            err=True,
        )


@sites.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def sites_list(as_json: bool) -> None:
    """List sites (never their secrets)."""
    from haechi.platform.sites import service as site_service

    async def work(runtime: Any) -> list[dict[str, Any]]:
        async with runtime.sessions() as session:
            rows = await site_service.list(session)
            return [
                {
                    "sitekey": s.sitekey,
                    "name": s.name,
                    "hostnames": list(s.hostnames),
                    "security_level": s.security_level,
                    "widget_mode": s.widget_mode,
                    "active": s.active,
                    "created_at": s.created_at.isoformat(),
                }
                for s in rows
            ]

    rows = _run(lambda: _with_runtime(work))
    if as_json:
        click.echo(json.dumps({"data": rows, "count": len(rows)}))
        return
    for row in rows:
        level = row["security_level"]
        if level == "test":
            level = "test (proof-of-work only)"
        click.echo(f"{row['sitekey']}  {row['name']}  {', '.join(row['hostnames'])}  {level}")


@sites.command("rotate-secret")
@click.argument("sitekey")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def sites_rotate_secret(sitekey: str, as_json: bool) -> None:
    """Issue a new secret; the old one keeps working for the grace period."""
    from haechi.core.db import utcnow
    from haechi.platform.sites import service as site_service

    async def work(runtime: Any) -> dict[str, Any]:
        async with runtime.sessions() as session:
            site = await site_service.get_by_sitekey(session, sitekey=sitekey)
            if site is None:
                raise click.ClickException(f"no site has the sitekey {sitekey!r}")
            grace = runtime.settings.protocol.secret_grace_seconds
            secret = await site_service.rotate_secret(
                session, site=site, pepper=runtime.pepper, grace_seconds=grace, now=utcnow()
            )
            await session.commit()
            expires = site.previous_secret_expires_at
        await runtime.invalidate_site(sitekey)
        return {
            "sitekey": sitekey,
            "secret": secret,
            "previous_secret_valid_until": expires.isoformat() if expires else None,
        }

    _print_site(_run(lambda: _with_runtime(work)), as_json)


# ------------------------------------------------------------------------------ solve


@main.command()
@click.option("--url", required=True, help="Base URL of a Haechi edge, e.g. http://127.0.0.1:8080")
@click.option("--sitekey", required=True)
@click.option("--origin", default=None, help="Origin header to send (default: the URL's origin)")
@click.option("--action", default=None)
@click.option("--cdata", default=None)
def solve(
    url: str, sitekey: str, origin: str | None, action: str | None, cdata: str | None
) -> None:
    """Fetch and solve a challenge without a browser; the token is the last line printed."""
    import httpx

    from haechi.client import SolveError, asolve

    try:
        token = asyncio.run(
            asolve(url=url, sitekey=sitekey, origin=origin, action=action, cdata=cdata)
        )
    except SolveError as error:
        raise click.ClickException(f"the challenge was not solved: {error.code}") from None
    except (httpx.HTTPError, OSError) as error:
        raise click.ClickException(f"cannot reach {url}: {error}") from None
    except ValueError:
        raise click.ClickException(f"{url} did not answer like a Haechi edge") from None
    click.echo(token)


@main.group()
def keys() -> None:
    """Key material for HAECHI_KEYS__*."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a fresh keyring and pepper as environment variables."""
    from haechi.core.crypto import new_key

    click.echo(f"HAECHI_KEYS__KEYRING='{json.dumps({'k1': new_key()})}'")
    click.echo("HAECHI_KEYS__ACTIVE=k1")
    click.echo(f"HAECHI_KEYS__SECRET_PEPPER={new_key()}")


main.add_command(risk)
main.add_command(challenges)
main.add_command(dev)
for _command in PLATFORM_COMMANDS:
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
