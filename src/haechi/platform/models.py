"""Every platform table, imported once so that ``Base.metadata`` (Alembic, tests) sees them."""

from __future__ import annotations

from haechi.platform.accounts.models import EmailToken, User
from haechi.platform.apikeys.models import ApiKey
from haechi.platform.audit.models import AuditEvent
from haechi.platform.auth.credential_models import OidcIdentity, Passkey
from haechi.platform.auth.models import AuthSession, RefreshToken
from haechi.platform.billing.models import Charge, Subscription
from haechi.platform.email.models import Mail
from haechi.platform.iprules.models import IpRule, SiteIpPolicy
from haechi.platform.orgs.models import Invitation, Membership
from haechi.platform.plans.models import OrgPlan, PlanRecord
from haechi.platform.sites.models import Organisation, Site
from haechi.platform.usage.models import UsageDaily, UsageFlush, UsageHourly

__all__ = [
    "ApiKey",
    "AuditEvent",
    "AuthSession",
    "Charge",
    "EmailToken",
    "Invitation",
    "IpRule",
    "Mail",
    "Membership",
    "OidcIdentity",
    "OrgPlan",
    "Organisation",
    "Passkey",
    "PlanRecord",
    "RefreshToken",
    "Site",
    "SiteIpPolicy",
    "Subscription",
    "UsageDaily",
    "UsageFlush",
    "UsageHourly",
    "User",
]
