"""What the /demo page tells a visitor, without a browser."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import httpx
from starlette.applications import Starlette

from haechi.core.settings import Settings
from haechi.platform.bootstrap import DEMO_FILE
from haechi.widget import routes


async def test_the_demo_says_headless_browsers_are_denied_and_what_to_use(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    (tmp_path / DEMO_FILE).write_text(json.dumps({"sitekey": "hk_demo", "secret": "hs_demo"}))
    app = Starlette(routes=routes(settings))
    app.state.runtime = SimpleNamespace(settings=settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = (await client.get("/demo")).text
    assert "headless browser" in page and "denies those as automation" in page
    assert "--security-level test" in page and "hk_test_pass_00000000000000" in page
