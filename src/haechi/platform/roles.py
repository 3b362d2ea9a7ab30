"""Who may do what in an organisation: the one table every guard reads (docs/platform.md).

Roles are ordered owner > admin > developer > viewer; each permission names the least role
that holds it. API keys carry scopes instead of a role; each scope grants a fixed set.
"""

from __future__ import annotations

from collections.abc import Iterable

RANK = {"viewer": 0, "developer": 1, "admin": 2, "owner": 3}

# permission -> least role holding it
LEAST_ROLE: dict[str, str] = {
    "org:read": "viewer",
    "members:read": "viewer",
    "sites:read": "viewer",
    "sites:write": "developer",
    "keys:read": "admin",
    "keys:write": "admin",
    "members:write": "admin",
    "audit:read": "admin",
    "org:write": "admin",
    "org:delete": "owner",
    "org:transfer": "owner",
    # Billing (docs/usage-and-billing.md): admins read plans, history and invoices; only owners
    # register cards, change or cancel the subscription.
    "billing:read": "admin",
    "billing:write": "owner",
}
ALL_PERMISSIONS = frozenset(LEAST_ROLE)

# API key scope -> permissions. A key never manages keys or the organisation itself.
SCOPES: dict[str, frozenset[str]] = {
    "read": frozenset({"org:read", "members:read", "sites:read"}),
    "sites:write": frozenset({"sites:read", "sites:write"}),
    "members:write": frozenset({"members:read", "members:write"}),
    "audit:read": frozenset({"audit:read"}),
}


def permissions(role: str) -> frozenset[str]:
    rank = RANK[role]
    return frozenset(p for p, least in LEAST_ROLE.items() if RANK[least] <= rank)


def scope_permissions(scopes: Iterable[str]) -> frozenset[str]:
    granted: set[str] = set()
    for scope in scopes:
        granted |= SCOPES.get(scope, frozenset())
    return frozenset(granted)


def may_assign(actor_role: str, role: str) -> bool:
    """An admin hands out roles up to admin; only an owner makes owners (by transfer)."""
    if role == "owner":
        return False
    return RANK[actor_role] >= RANK["admin"] and RANK[role] <= RANK[actor_role]
