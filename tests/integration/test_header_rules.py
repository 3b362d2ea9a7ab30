"""The edge judges the request's headers at /v1/challenge (``signals.header_mismatch``): a copied
browser agent without the browser's Fetch Metadata and Client Hints lands in a higher band; the
same agent with the headers Chromium sends (captured) does not."""

from __future__ import annotations

from .conftest import ORIGIN, Edge

CHROMIUM = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)
BROWSER = {
    "user-agent": CHROMIUM,
    "sec-ch-ua": '"Not:A-Brand";v="8", "Chromium";v="156"',
    "sec-ch-ua-platform": '"Linux"',
    "sec-ch-ua-mobile": "?0",
    "sec-fetch-site": "cross-site",
    "sec-fetch-mode": "cors",
    "sec-fetch-dest": "empty",
}


async def test_a_copied_agent_without_browser_headers_gets_more(quick_edge: Edge) -> None:
    site = await quick_edge.create_site()

    async def plan(headers: dict[str, str]) -> dict[str, object]:
        reply = await quick_edge.http.post(
            "/v1/challenge",
            json={"v": 1, "sitekey": site.sitekey},
            headers={"origin": ORIGIN, **headers},
        )
        assert reply.status_code == 200, reply.text
        body = reply.json()
        task = body["task"]
        return {"bits": body["pow"]["bits"], "task": task["type"] if task else None}

    browser = await plan(BROWSER)
    copied = await plan({"user-agent": CHROMIUM})
    plain = await plan({})  # an agent that claims no browser is not judged by its headers
    # The suite's bands: up to 40 PoW alone (no telemetry: 30), 41-90 a glyph task.
    assert browser == plain == {"bits": 6, "task": None}
    assert copied == {"bits": 6, "task": "glyph"}
