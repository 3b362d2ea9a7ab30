"""The Python SDK against the app over ASGI: reference solver and async verify."""

from __future__ import annotations

import pytest

from haechi.client import SolveError, asolve, averify

from .conftest import ORIGIN, Edge


async def test_asolve_and_averify(quick_edge: Edge) -> None:
    site = await quick_edge.create_site()
    token = await asolve(
        url="http://edge.test",
        sitekey=site.sitekey,
        origin=ORIGIN,
        action="signup",
        cdata="c1",
        client=quick_edge.http,
    )
    result = await averify(
        secret=site.secret,
        response=token,
        url="http://edge.test",
        remoteip="192.0.2.1",
        idempotency_key="k1",
        client=quick_edge.http,
    )
    assert result.success and result.action == "signup" and result.cdata == "c1"
    assert result.hostname == "shop.example.com" and result.score is not None
    again = await averify(
        secret=site.secret, response=token, url="http://edge.test", client=quick_edge.http
    )
    assert not again.success and again.error_codes == ["timeout-or-duplicate"]


async def test_asolve_reports_server_refusals(quick_edge: Edge) -> None:
    with pytest.raises(SolveError) as error:
        await asolve(
            url="http://edge.test", sitekey="hk_unknown", origin=ORIGIN, client=quick_edge.http
        )
    assert error.value.code == "invalid-sitekey"
    site = await quick_edge.create_site()
    await quick_edge.set_security_level(site.sitekey, "high")  # glyph band: a visual task
    with pytest.raises(SolveError) as error:
        await asolve(
            url="http://edge.test", sitekey=site.sitekey, origin=ORIGIN, client=quick_edge.http
        )
    assert error.value.code == "visual-task"
