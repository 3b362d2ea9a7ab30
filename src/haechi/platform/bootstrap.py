"""First start in embedded mode: a demo site whose secret survives restarts.

The secret is shown once by design, so the demo page (which verifies its own form) keeps it in
``<data dir>/demo-site.json`` with mode 0600 — the only place a plaintext secret is ever written,
and only for the local demo site.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from haechi.core.crypto import write_private
from haechi.core.files import private_dir
from haechi.platform.sites import schemas
from haechi.platform.sites import service as sites

if TYPE_CHECKING:
    from haechi.runtime import Runtime

log = logging.getLogger("haechi.bootstrap")
DEMO_FILE = "demo-site.json"
DEMO_HOSTNAMES = ["localhost", "127.0.0.1"]


async def ensure_demo_site(runtime: Runtime) -> dict[str, str]:
    path = runtime.settings.data_dir / DEMO_FILE
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        async with runtime.sessions() as session:
            if await sites.get_by_sitekey(session, sitekey=stored["sitekey"]) is not None:
                return stored
    async with runtime.sessions() as session:
        org = await sites.get_or_create_default_org(session)
        site, secret = await sites.create(
            session,
            org=org,
            data=schemas.SiteCreate(name="Demo site", hostnames=DEMO_HOSTNAMES),
            pepper=runtime.pepper,
            is_demo=True,
        )
        await session.commit()
        demo = {"sitekey": site.sitekey, "secret": secret}
    private_dir(runtime.settings.data_dir)
    write_private(path, json.dumps(demo, indent=2))
    log.info("created the demo site", extra={"sitekey": demo["sitekey"]})
    return demo
