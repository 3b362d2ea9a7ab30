"""API quality: idempotency keys, ETags and If-Match, size limits, problem+json everywhere."""

from __future__ import annotations

import base64
import json

import pytest

from tests import factories
from tests.integration.platform.driver import Api

pytestmark = pytest.mark.integration
SITE = {"name": "Shop", "hostnames": ["shop.example.com"]}


async def _owner(api: Api) -> tuple[str, str]:
    async with api.db() as db:
        owner = await factories.user(db)
        org = await factories.org(db, owner=owner)
        token = await factories.access_token(db, user=owner, keyring=api.runtime.keyring)
    return str(org.id), token


async def test_idempotency_key_replays_the_first_answer(api: Api) -> None:
    org, token = await _owner(api)
    headers = {"idempotency-key": "create-shop-1"}
    first = await api.call("POST", f"/orgs/{org}/sites", token=token, json=SITE, headers=headers)
    again = await api.call("POST", f"/orgs/{org}/sites", token=token, json=SITE, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    listed = await api.ok("GET", f"/orgs/{org}/sites", token=token)
    assert listed["count"] == 1
    other = await api.call(
        "POST", f"/orgs/{org}/sites", token=token, json={**SITE, "name": "X"}, headers=headers
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency-key-reused"
    bad = await api.call(
        "POST", f"/orgs/{org}/sites", token=token, json=SITE, headers={"idempotency-key": "a b"}
    )
    assert bad.status_code == 400
    # without the key, a second POST is a second site
    await api.ok("POST", f"/orgs/{org}/sites", token=token, json=SITE)
    assert (await api.ok("GET", f"/orgs/{org}/sites", token=token))["count"] == 2


async def test_etag_and_if_match(api: Api) -> None:
    org, token = await _owner(api)
    site = await api.ok("POST", f"/orgs/{org}/sites", token=token, json=SITE)
    read = await api.call("GET", f"/orgs/{org}/sites/{site['id']}", token=token)
    etag = read.headers["etag"]
    changed = await api.call(
        "PATCH",
        f"/orgs/{org}/sites/{site['id']}",
        token=token,
        json={"name": "New"},
        headers={"if-match": etag},
    )
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    stale = await api.call(
        "PATCH",
        f"/orgs/{org}/sites/{site['id']}",
        token=token,
        json={"name": "Newer"},
        headers={"if-match": etag},
    )
    assert stale.status_code == 412 and stale.json()["code"] == "precondition-failed"
    org_read = await api.call("GET", f"/orgs/{org}", token=token)
    renamed = await api.call(
        "PATCH",
        f"/orgs/{org}",
        token=token,
        json={"name": "Renamed"},
        headers={"if-match": org_read.headers["etag"]},
    )
    assert renamed.status_code == 200


async def test_client_mistakes_are_4xx_problems(api: Api) -> None:
    org, token = await _owner(api)
    huge = await api.call(
        "POST",
        "/accounts",
        content=b"{" + b" " * 70_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    broken = await api.call(
        "POST", "/accounts", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    assert (await api.call("GET", "/no-such-thing")).status_code == 404
    assert (await api.call("PUT", "/me", token=token)).status_code == 405
    assert (await api.call("GET", "/orgs/not-a-uuid", token=token)).status_code == 422
    too_many = await api.call(
        "POST",
        f"/orgs/{org}/sites",
        token=token,
        json={"name": "x", "hostnames": [f"h{i}.example.com" for i in range(51)]},
    )
    assert too_many.status_code == 422
    bad_host = await api.call(
        "POST",
        f"/orgs/{org}/sites",
        token=token,
        json={"name": "x", "hostnames": ["http://x.example.com"]},
    )
    assert bad_host.status_code == 422
    past = await api.call(
        "POST",
        f"/orgs/{org}/api-keys",
        token=token,
        json={"name": "k", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"},
    )
    assert past.status_code == 400 and past.json()["code"] == "invalid-expiry"


async def test_idempotent_replay_needs_a_credential_that_still_works(api: Api) -> None:
    token = await api.user("replay@example.com")
    org = (await api.ok("POST", "/orgs", token=token, json={"name": "Replay"}))["id"]
    headers = {"idempotency-key": "new-key-1"}
    body = {"name": "ci", "scopes": ["sites:write"]}
    created = await api.call(
        "POST", f"/orgs/{org}/api-keys", token=token, json=body, headers=headers
    )
    assert created.status_code == 201
    key = created.json()["key"]
    on_site = {"idempotency-key": "site-by-key-1"}
    assert (
        await api.call("POST", f"/orgs/{org}/sites", token=key, json=SITE, headers=on_site)
    ).status_code == 201
    # signed out: the stored answer (the API key, shown once) must not come back
    await api.ok("POST", "/auth/logout", token=token, headers={"x-haechi-csrf": "1"})
    again = await api.call("POST", f"/orgs/{org}/api-keys", token=token, json=body, headers=headers)
    assert again.status_code == 401 and key not in again.text
    # a revoked API key cannot read its stored answers either
    fresh = await api.login("replay@example.com")
    await api.ok("DELETE", f"/orgs/{org}/api-keys/{created.json()['id']}", token=fresh)
    replay = await api.call("POST", f"/orgs/{org}/sites", token=key, json=SITE, headers=on_site)
    assert replay.status_code == 401 and "idempotent-replayed" not in replay.headers


async def test_a_forged_cursor_is_a_400_whatever_it_holds(api: Api) -> None:
    org, token = await _owner(api)
    for held in ([], 5, ["2026-01-01T00:00:00+00:00", 5], ["2026-01-01T00:00:00+00:00", [1]]):
        cursor = base64.urlsafe_b64encode(json.dumps(held).encode()).decode().rstrip("=")
        bad = await api.call("GET", f"/orgs/{org}/audit", token=token, params={"cursor": cursor})
        assert bad.status_code == 400 and bad.json()["code"] == "invalid-cursor"


async def test_a_rate_limited_answer_is_not_kept_for_the_idempotency_key(api: Api) -> None:
    """A 429 is no outcome: the retry after Retry-After, with the same key, does the work."""
    async with api.db() as db:
        owner = await factories.user(db)
        org = await factories.org(db, owner=owner)
        key = await factories.api_key(
            db, org=org, pepper=api.runtime.pepper, scopes=["read", "sites:write"]
        )
    bucket = f"platform:api-key-rate:{key.row.id}"
    limit = api.runtime.settings.platform.api_key_per_minute
    for _ in range(limit):
        await api.runtime.store.hit(bucket, limit, 60.0)
    headers = {"idempotency-key": "create-shop-429"}
    path = f"/orgs/{org.id}/sites"
    limited = await api.call("POST", path, token=key.key, json=SITE, headers=headers)
    assert limited.status_code == 429
    platform = api.runtime.settings.platform
    platform.api_key_per_minute = limit * 2  # the limit is lifted: the retry gets through
    try:
        retried = await api.call("POST", path, token=key.key, json=SITE, headers=headers)
    finally:
        platform.api_key_per_minute = limit
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
