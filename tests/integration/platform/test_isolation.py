"""Tenant isolation and roles: every org-scoped endpoint answers 404 for another org's ids
and 403 to a viewer's writes. The endpoint list comes from the OpenAPI document, so a new
endpoint is covered (and needs a body here) the day it is added."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from haechi.core.db import utcnow
from haechi.platform.app import openapi_document as build_openapi
from haechi.platform.orgs.models import Organisation
from tests import factories
from tests.integration.platform.driver import Api

pytestmark = pytest.mark.integration

BODIES: dict[str, Any] = {
    "orgs_update": {"name": "Renamed"},
    "orgs_transfer": {"user_id": "{user_id}"},
    "members_update": {"role": "developer"},
    "invitations_create": {"email": "new@example.com", "role": "viewer"},
    "sites_create": {"name": "New", "hostnames": ["new.example.com"]},
    "sites_update": {"name": "Renamed"},
    "api_keys_create": {"name": "k", "scopes": ["read"]},
    "ip_rules_create": {"action": "deny", "cidr": "192.0.2.0/24"},
    "ip_rules_create_for_site": {"action": "allow", "cidr": "2001:db8::/48"},
    "ip_rules_update": {"note": "changed"},
    "ip_rules_set_policy": {"allow_skips_friction": True},
    "billing_start_card_registration": {"plan": "pro"},
    "billing_subscribe": {"auth_key": "auth-key", "customer_key": "customer-key", "plan": "pro"},
    "billing_change_plan": {"plan": "business"},
}


@functools.cache
def openapi_document() -> dict[str, Any]:
    return build_openapi()


def org_operations() -> list[tuple[str, str, str]]:
    doc = openapi_document()
    found = []
    for path, item in doc["paths"].items():
        if "{org_id}" not in path or path.startswith("/v1/admin"):
            continue
        for method, op in item.items():
            found.append((method.upper(), path.removeprefix("/v1"), op["operationId"]))
    return found


def test_every_org_operation_has_a_body_when_it_needs_one() -> None:
    doc = openapi_document()
    for method, path, op_id in org_operations():
        op = doc["paths"]["/v1" + path][method.lower()]
        if "requestBody" in op:
            assert op_id in BODIES, f"add a body for {op_id} to BODIES"


async def _world(api: Api) -> dict[str, Any]:
    async with api.db() as db:
        alice = await factories.user(db)
        vic = await factories.user(db)
        dev = await factories.user(db)
        bob = await factories.user(db)
        org_a = await factories.org(db, owner=alice, name="A")
        await factories.member(db, org=org_a, user=vic, role="viewer")
        await factories.member(db, org=org_a, user=dev, role="developer")
        org_b = await factories.org(db, owner=bob, name="B")
        site = await factories.site(db, org=org_a, pepper=api.runtime.pepper)
        key = await factories.api_key(db, org=org_a, pepper=api.runtime.pepper)
        b_key = await factories.api_key(
            db, org=org_b, pepper=api.runtime.pepper, scopes=["read", "sites:write"]
        )
        tokens = {
            name: await factories.access_token(db, user=u, keyring=api.runtime.keyring)
            for name, u in (("alice", alice), ("vic", vic), ("bob", bob), ("dev", dev))
        }
    async with api.db() as db:
        from haechi.core.settings import Settings
        from haechi.platform.orgs import service as orgs
        from haechi.platform.orgs.schemas import InvitationCreate

        org = await db.get(Organisation, org_a.id)
        assert org is not None
        from haechi.platform.iprules import service as ip_rules
        from haechi.platform.iprules.schemas import IpRuleCreate

        rule = await ip_rules.create(
            db,
            org_id=org_a.id,
            site_id=site.site.id,
            data=IpRuleCreate(action="deny", cidr="203.0.113.0/24"),
            now=utcnow(),
        )
        invoice = await _invoice(db, org)
        invitation = await orgs.invite(
            db,
            org=org,
            actor=alice,
            actor_role="owner",
            data=InvitationCreate(email="inv@example.com", role="viewer"),
            settings=Settings(),
            jobs=None,
        )
    return {
        "org_a": str(org_a.id),
        "org_b": str(org_b.id),
        "site_id": str(site.site.id),
        "key_id": str(key.row.id),
        "invitation_id": str(invitation.id),
        "rule_id": str(rule.id),
        "invoice_id": str(invoice.id),
        "user_id": str(vic.id),
        "session_id": "",
        "tokens": tokens,
        "b_key": b_key.key,
    }


async def _invoice(db: Any, org: Organisation) -> Any:
    """A paid charge and its invoice in ``org`` (the invoice routes' sub-resource id)."""
    import uuid

    from haechi.platform.billing.models import Charge, Invoice

    now = utcnow()
    tag = uuid.uuid4().hex[:12]
    charge = Charge(
        org_id=org.id,
        period="2026-12",
        order_id=f"order-{tag}",
        idempotency_key=tag,
        amount=49_000,
        status="done",
        created_at=now,
        updated_at=now,
    )
    db.add(charge)
    await db.flush()
    invoice = Invoice(
        org_id=org.id,
        charge_id=charge.id,
        number=f"TEST-{tag}",
        org_name=org.name,
        currency="KRW",
        total=49_000,
        supply=44_545,
        vat=4_455,
        lines=[],
        status="paid",
        issued_at=now,
    )
    db.add(invoice)
    await db.flush()
    return invoice


def _fill(path: str, org_id: str, w: dict[str, Any]) -> str:
    return path.format(
        org_id=org_id,
        site_id=w["site_id"],
        key_id=w["key_id"],
        invitation_id=w["invitation_id"],
        rule_id=w["rule_id"],
        invoice_id=w["invoice_id"],
        user_id=w["user_id"],
    )


def _body(op_id: str, w: dict[str, Any]) -> Any:
    body = BODIES.get(op_id)
    if body is None:
        return None
    return {
        k: (v.format(user_id=w["user_id"]) if isinstance(v, str) else v) for k, v in body.items()
    }


async def test_another_orgs_ids_answer_404(api: Api) -> None:
    w = await _world(api)
    bob = w["tokens"]["bob"]
    for method, path, op_id in org_operations():
        # A's org id, as a stranger (user and API key of org B)
        for token in (bob, w["b_key"]):
            reply = await api.call(
                method, _fill(path, w["org_a"], w), token=token, json=_body(op_id, w)
            )
            assert reply.status_code == 404, (op_id, reply.status_code, reply.text)
        # B's own org id with A's sub-resource ids
        if path.count("{") > 1:
            reply = await api.call(
                method, _fill(path, w["org_b"], w), token=bob, json=_body(op_id, w)
            )
            assert reply.status_code == 404, (
                "own org, foreign id",
                op_id,
                reply.status_code,
                reply.text,
            )


async def test_a_viewer_cannot_write(api: Api) -> None:
    w = await _world(api)
    vic = w["tokens"]["vic"]
    for method, path, op_id in org_operations():
        if method == "GET" or op_id == "orgs_leave":
            continue
        reply = await api.call(method, _fill(path, w["org_a"], w), token=vic, json=_body(op_id, w))
        assert reply.status_code == 403, (op_id, reply.status_code, reply.text)
    # and reads what a viewer may read
    for op in ("/sites", "/members", ""):
        assert (await api.call("GET", f"/orgs/{w['org_a']}{op}", token=vic)).status_code == 200


async def test_roles_table(api: Api) -> None:
    w = await _world(api)
    org = w["org_a"]
    dev = w["tokens"]["dev"]
    # a developer writes sites but not members, keys or the org
    created = await api.ok("POST", f"/orgs/{org}/sites", token=dev, json=BODIES["sites_create"])
    assert created["secret"].startswith("hs_")
    for method, path, body in (
        ("POST", f"/orgs/{org}/api-keys", BODIES["api_keys_create"]),
        ("POST", f"/orgs/{org}/invitations", BODIES["invitations_create"]),
        ("PATCH", f"/orgs/{org}", BODIES["orgs_update"]),
        ("GET", f"/orgs/{org}/audit", None),
    ):
        assert (await api.call(method, path, token=dev, json=body)).status_code == 403
    # an admin cannot delete the org; the owner can
    alice = w["tokens"]["alice"]
    await api.ok(
        "PATCH", f"/orgs/{org}/members/{w['user_id']}", token=alice, json={"role": "admin"}
    )
    assert (await api.call("DELETE", f"/orgs/{org}", token=w["tokens"]["vic"])).status_code == 403
    await api.ok("DELETE", f"/orgs/{org}", token=alice)
    assert (await api.call("GET", f"/orgs/{org}", token=alice)).status_code == 404
