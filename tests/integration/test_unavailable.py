"""A dependency failure answers 503 ``unavailable`` with ``Retry-After``, on /v1 and /siteverify."""

from __future__ import annotations

from pathlib import Path

from ..stores import OutageStore
from .conftest import edge_settings, start_edge


async def test_503_unavailable_says_when_to_retry(tmp_path: Path) -> None:
    store = OutageStore()
    url = f"sqlite+aiosqlite:///{tmp_path / 'outage.db'}"
    async for edge in start_edge(edge_settings(tmp_path, url), store):
        site = await edge.create_site()
        token = await edge.token(site.sitekey)
        challenge = (await edge.challenge(site.sitekey)).json()
        store.down = {"spend", "hit"}
        for reply in (await edge.solve(challenge), await edge.challenge(site.sitekey)):
            assert reply.status_code == 503
            assert reply.json()["error"]["code"] == "unavailable"
            assert int(reply.headers["retry-after"]) >= 1
        verdict = await edge.http.post(
            "/siteverify", data={"secret": site.secret, "response": token}
        )
        assert verdict.json()["error-codes"] == ["internal-error"]
        assert int(verdict.headers["retry-after"]) >= 1
        # The native siteverify answer has no "messages" field (docs/api.md shows it as is).
        assert "messages" not in verdict.json()
