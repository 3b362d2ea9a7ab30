"""The CAPTCHA protocol: issue a challenge, check a solution, verify a token.

Issuing writes nothing: everything the server needs later is sealed into the challenge. Solving
spends the challenge once (one key-value write) and returns a sealed, single-use token; verifying
spends the token once (a second write). Both carry the store's epoch and are refused as expired
once the store has lost the state they were issued in (``haechi.core.store.base``). Checks run
in a fixed order and stop at the first failure: format, seal, expiry, site, hostname,
proof-of-work, spend, answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from haechi.challenges.base import ChallengeContext, ChallengeRegistry, pick_locale
from haechi.core.crypto import Keyring, SealError, b64e
from haechi.core.errors import Forbidden, Invalid, Unavailable
from haechi.core.metrics import Metrics
from haechi.core.net import hostname_allowed
from haechi.core.randomness import random_bytes
from haechi.core.settings import Settings
from haechi.core.store import Store
from haechi.core.store.base import StaleEpoch, StoreUnavailable
from haechi.core.store.counters import CounterBuffer
from haechi.protocol import pow as pow_
from haechi.protocol.dialects import test_sitekey_token
from haechi.protocol.iprules import ALLOW, DENY
from haechi.protocol.messages import PROTOCOL_VERSION, ChallengeRequest, SolveRequest
from haechi.protocol.sites import SiteCache, SiteInfo
from haechi.protocol.usage import TopNames, risk_label, time_label, usage_key
from haechi.risk import repeat
from haechi.risk.attack import AttackMonitor
from haechi.risk.policy import TEST_LEVEL, Plan, Policy, allows_test_level
from haechi.risk.scoring import (
    AWAITING_INPUT,
    AsyncRiskScorer,
    RiskInput,
    RiskResult,
    rests_on_missing,
)
from haechi.risk.telemetry import parse_telemetry

log = logging.getLogger("haechi.protocol")
# Solve-time telemetry seen before (``ProtocolService._replayed``): how long a digest is kept,
# and the risk a replay gets at least (a visual task in the default ladder, never a block).
REPLAY_TTL = 3600
# The near-duplicate sketches of a path (haechi.risk.repeat): a day, so a stock of recordings is
# spent once a day; 0 collisions between 4,583 SapiMouse windows (bench/repeat_collisions.py).
REPLAY_SKETCH_TTL = 86400
REPLAY_RISK = 60
REPLAYED = "replayed-telemetry"

CHALLENGE_PURPOSE = "challenge"
TOKEN_PURPOSE = "token"
MAX_TOKEN_CHARS = 2048
# A sealed value is as long as its plaintext, so the fields a visitor must not learn (the risk,
# whether the challenge blocks, a task's answer) are padded to fixed widths (``_hide_widths``):
# a challenge's or token's length then depends only on what the visitor already knows (the site,
# page, action, cdata and the task it was shown). Padding everything to 1 KiB did that too, but
# carried 1 KiB more through every challenge, solve and siteverify (bench/RESULTS.md).
RISK_WIDTH = 3  # 0-100
BLOCK_WIDTH = 5  # true / false
ANSWER_WIDTH = 256  # a multiple of this: every answer of an ordinary size takes the same room
# Spends a key for a TTL with a value under an epoch as ``Store.spend`` does and returns its
# result with the caller's request rate (requests/s, when known): the edge counts the per-IP limit
# in the same store round trip.
Spender = Callable[[str, float, bytes, str | None], Awaitable[tuple[bytes | None, float | None]]]
_SYSTEM_RNG = random.SystemRandom()
# SiteInfo.quota of an organisation past its quota and grace (docs/usage-and-billing.md).
QUOTA_STEP_UP = "step-up"
QUOTA_BLOCK = "block"
QUOTA_EXCEEDED = "quota-exceeded"
# What an address on a site's allow list gets when the site's IP policy says so: no scoring,
# no visual task, the least proof-of-work (as a test sitekey).
NO_FRICTION = Plan(0, 0, pow_bits=1, pow_count=1, challenge=None, block=False)
IP_ALLOWED = RiskResult(risk=0, reasons=("ip-allowed",), model="ip-rule")


def _new_id() -> str:
    """A challenge or token id: 128 random bits, base64url (as ``secrets.token_urlsafe(16)``)."""
    return b64e(random_bytes(16))


def _hide_widths(plaintext: bytes, hidden: list[tuple[Any, int]]) -> bytes:
    """``plaintext`` (a JSON object) with trailing spaces, which JSON ignores, so that each value
    in ``hidden`` counts as a multiple of its width: the length no longer depends on them."""
    pad = 0
    for value, width in hidden:
        pad += -len(orjson.dumps(value)) % width
    return plaintext + b" " * pad


@dataclass(frozen=True, slots=True)
class Outcome:
    """What /v1/solve answers: ``token``, ``step_up`` (with a new challenge) or ``fail``."""

    kind: str
    body: dict[str, Any]

    @classmethod
    def fail(cls, code: str) -> Outcome:
        return cls("fail", {"v": PROTOCOL_VERSION, "outcome": "fail", "code": code})


def _needs_more(plan: Plan, sealed: dict[str, Any]) -> bool:
    """Whether the plan at /v1/solve asks more than the challenge did: a visual task, or more
    proof-of-work than was paid (expected hashes: count x 2^bits)."""
    if plan.challenge is not None:
        return True
    return bool(plan.pow_count * 2**plan.pow_bits > sealed["pc"] * 2 ** sealed["pb"])


class ProtocolService:
    def __init__(
        self,
        *,
        settings: Settings,
        keyring: Keyring,
        store: Store,
        sites: SiteCache,
        registry: ChallengeRegistry,
        policy: Policy,
        scorer: AsyncRiskScorer,
        counters: CounterBuffer,
        metrics: Metrics,
        pepper: bytes,
        resources: dict[str, Any] | None = None,
        attack: AttackMonitor | None = None,
    ) -> None:
        self.settings = settings
        self.pepper = pepper
        self.keyring = keyring
        self.store = store
        self.sites = sites
        self.registry = registry
        self.policy = policy
        self.scorer = scorer
        self.attack = attack
        self.counters = counters
        self.metrics = metrics
        self.resources = resources or {}
        # Replaceable in tests (expiry) without patching the time module.
        self.clock: Callable[[], float] = time.time
        self._challenge_ttl = settings.protocol.challenge_ttl_seconds
        self._token_ttl = settings.protocol.token_ttl_seconds
        # Sites at the ``test`` level get proof-of-work alone; in production only when allowed.
        self._test_level = allows_test_level(settings)
        # Hostnames and actions counted by name, bounded (haechi.protocol.usage.TopNames).
        self._hosts = TopNames()
        self._actions = TopNames()
        # The least risk that gets a visual task (an over-quota org in step-up mode).
        self._visual_risk = next(
            (b.max_risk for b in settings.policy.bands if b.challenges and not b.block), 100
        )

    # ------------------------------------------------------------------ helpers

    async def _score(
        self,
        telemetry: Any,
        stage: Literal["challenge", "solve"],
        size: int | None,
        ip_rate: float | None,
        task_signals: dict[str, float] | None = None,
        request_rules: tuple[str, ...] = (),
    ) -> RiskResult:
        parsed = parse_telemetry(
            telemetry,
            encoded_size=size,
            max_bytes=self.settings.protocol.max_telemetry_bytes,
            # When the behaviour is judged at /v1/solve, so are the events (risk.behaviour_at).
            head_only=stage == "challenge"
            and not getattr(self.scorer, "behaviour_at_challenge", True),
        )
        try:
            return await self.scorer.score(
                RiskInput(
                    telemetry=parsed,
                    ip_rate=ip_rate,
                    stage=stage,
                    task_signals=task_signals,
                    request_rules=request_rules,
                )
            )
        except Exception:
            # The engine already turns model failures into friction; this is the last net.
            log.exception("risk scorer failed; treating as high risk")
            return RiskResult(risk=90, reasons=("scorer-error",), model="fallback")

    async def _replayed(self, telemetry: Any, *, check: bool = True) -> bool:
        """Whether these solve-time movements were sent before: a person never moves the same
        way twice, a bot replaying a recorded session does. Two kinds of key, under no visitor
        id: an exact digest of the events (``REPLAY_TTL``) and the path's near-duplicate
        sketches (``haechi.risk.repeat``, ``REPLAY_SKETCH_TTL``), which a copy with every event
        moved by a few pixels and milliseconds still matches. They recognise a recording, not
        a person. ``check=False`` only records (a task's solve: its telemetry can be copied into
        another visit's first solve). A store failure is no evidence either way."""
        if not isinstance(telemetry, dict):
            return False
        events = telemetry.get("events")
        if not events or (isinstance(events, dict) and not events.get("d")):
            return False
        try:
            digest = hashlib.blake2b(orjson.dumps(events), digest_size=16).hexdigest()
            parsed = parse_telemetry(
                telemetry, max_bytes=self.settings.protocol.max_telemetry_bytes
            )
            keys = [f"tseen:{digest}"] + [f"tsk:{d.hex()}" for d in repeat.sketches(parsed)]
            seen = await asyncio.gather(
                *(
                    self.store.spend(k, REPLAY_TTL if i == 0 else REPLAY_SKETCH_TTL)
                    for i, k in enumerate(keys)
                ),
                return_exceptions=True,
            )
        except Exception:
            return False
        return check and any(v is not None and not isinstance(v, BaseException) for v in seen)

    def _input_matters(self, site: SiteInfo, plan: Plan) -> bool:
        """Whether waiting for the visitor's input can spare them more friction: the plan that
        missing telemetry gets at /v1/solve asks more than ``plan`` (never for test sitekeys or
        the test level, whose plans do not follow the risk)."""
        if site.test_mode is not None or (site.security_level == TEST_LEVEL and self._test_level):
            return False
        missing = RiskResult(self.settings.policy.missing_telemetry_risk, ("no-telemetry",), "")
        later = self._plan(site, missing)
        return later.challenge is not None or later.block or later.band != plan.band

    def _plan(self, site: SiteInfo, risk: RiskResult) -> Plan:
        plan = self._risk_plan(site, risk)
        if site.quota == QUOTA_STEP_UP and plan.challenge is None and not plan.block:
            # Over its quota in step-up mode: a visual task for every visitor, never less.
            attack_level = self.attack.level(site.sitekey) if self.attack is not None else 0
            return self.policy.decide(
                max(risk.risk, self._visual_risk), attack_level=attack_level, may_block=False
            )
        return plan

    def _risk_plan(self, site: SiteInfo, risk: RiskResult) -> Plan:
        if site.test_mode is not None:
            return Plan(0, 0, pow_bits=1, pow_count=1, challenge=None, block=False)
        if site.security_level == TEST_LEVEL and self._test_level:
            return self.policy.test_plan
        # Missing telemetry (touch, keyboard-only, scripted) raises friction, never blocks alone.
        may_block = not rests_on_missing(risk)
        attack_level = self.attack.level(site.sitekey) if self.attack is not None else 0
        return self.policy.decide(
            risk.risk,
            security_level=site.security_level,
            attack_level=attack_level,
            may_block=may_block,
        )

    def ip_skips_friction(self, site: SiteInfo, ip: str | None, now: float) -> bool:
        """Whether ``ip`` is on the site's allow list and its policy lets that skip friction."""
        rules = site.ip_rules
        if rules is None or ip is None or not rules.allow_skips_friction:
            return False
        return rules.match(ip, now) == ALLOW

    async def site_for_request(self, sitekey: str) -> SiteInfo:
        try:
            site = await self.sites.get_by_sitekey(sitekey)
        except Exception as error:
            log.exception("site lookup failed")
            raise Unavailable("site lookup failed; try again") from error
        if site is None or not site.active:
            raise Invalid("unknown sitekey", code="invalid-sitekey")
        if site.suspended:
            raise Forbidden("this site's organisation is suspended", code="site-suspended")
        if site.quota == QUOTA_BLOCK:
            # Over its quota in block mode: no new challenge (so no token) until the month ends.
            raise Forbidden(
                "this site's organisation is over its monthly quota", code=QUOTA_EXCEEDED
            )
        return site

    @staticmethod
    def check_hostname(site: SiteInfo, hostname: str | None) -> None:
        if site.test_mode is not None:
            return
        if hostname is None:
            raise Invalid("no Origin or Referer header names the page", code="missing-hostname")
        if not hostname_allowed(hostname, site.hostnames):
            raise Invalid("this hostname is not allowed for the sitekey", code="invalid-hostname")

    # ------------------------------------------------------------------ challenge

    async def authorize(
        self, sitekey: str, hostname: str | None, ip: str | None = None
    ) -> SiteInfo:
        """The site a challenge is asked for, when it exists, the client's address ``ip`` is not
        on its deny list (403 ``ip-blocked``) and the page may use it."""
        site = await self.site_for_request(sitekey)
        rules = site.ip_rules
        if rules is not None and ip is not None and rules.match(ip, self.clock()) == DENY:
            raise Forbidden("requests from this address are blocked", code="ip-blocked")
        self.check_hostname(site, hostname)
        return site

    async def issue(
        self,
        request: ChallengeRequest,
        *,
        hostname: str | None,
        site: SiteInfo | None = None,
        telemetry_size: int | None = None,
        now: float | None = None,
        ip_rate: float | None = None,
        ip: str | None = None,
        request_rules: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Issue a challenge; ``site`` is the result of ``authorize`` when the caller has it.
        ``ip_rate`` is the caller's requests per second, when the edge knows it; ``ip`` its
        address (for the site's IP rules); ``request_rules`` what the edge found in the request's
        headers (``signals.header_mismatch``)."""
        if site is None:
            site = await self.authorize(request.sitekey, hostname, ip)
        now = self.clock() if now is None else now
        if self.ip_skips_friction(site, ip, now):
            risk, plan = IP_ALLOWED, NO_FRICTION
        else:
            risk = await self._score(
                request.telemetry, "challenge", telemetry_size, ip_rate, None, request_rules
            )
            plan = self._plan(site, risk)
        body = await self._seal_challenge(
            site=site,
            hostname=hostname or "",
            action=request.action,
            cdata=request.cdata,
            locale=pick_locale(request.locale),
            plan=plan,
            risk=risk.risk,
            step=0,
            now=now,
            prefer=request.prefer,
            api=request.api,
        )
        self.counters.add(usage_key(site.sitekey, "challenges", now))
        if self.attack is not None:
            self.attack.record(site.sitekey, "challenge", now)
        task = body["task"]
        prefix = usage_key(site.sitekey, "", now)
        self.counters.add(prefix + "c." + (task["type"] if task else "none"))
        self.counters.add(prefix + f"p.{plan.band}")
        if task is None and AWAITING_INPUT in risk.reasons and self._input_matters(site, plan):
            body["await_input"] = True
        self.metrics.count(
            self.metrics.challenges_issued, site.sitekey, task["type"] if task else "none"
        )
        self.metrics.observe_risk(site.sitekey, risk.risk)
        return body

    async def _seal_challenge(
        self,
        *,
        site: SiteInfo,
        hostname: str,
        action: str | None,
        cdata: str | None,
        locale: str,
        plan: Plan,
        risk: int,
        step: int,
        now: float,
        prefer: str | None = None,
        api: str | None = None,
    ) -> dict[str, Any]:
        challenge_id = _new_id()
        task: dict[str, Any] | None = None
        answer: Any = None
        kind_name = plan.challenge
        if kind_name is not None:
            if prefer is not None and self.registry.usable(
                prefer, self.settings.policy.enabled_test_types
            ):
                # The visitor asked for the accessible alternative to a visual task.
                kind_name = prefer
            kind = self.registry.get(kind_name)
            assert kind is not None
            ctx = ChallengeContext(site.sitekey, hostname, self.resources)
            difficulty = min(1.0, max(0.0, (plan.effective_risk - 10) / 90))
            task, answer = await kind.generate(ctx, _SYSTEM_RNG, difficulty, locale)
        # A step-up to a visual task asks no more work; a step-up to heavier work asks it all.
        pow_count = plan.pow_count if step == 0 or kind_name is None else 0
        expires = int(now + self._challenge_ttl)
        sealed = {
            "id": challenge_id,
            "sk": site.sitekey,
            "h": hostname,
            "a": action,
            "cd": cdata,
            "iat": int(now),
            "exp": expires,
            "pb": plan.pow_bits,
            "pc": pow_count,
            "r": risk,
            "ty": kind_name,
            "ans": answer,
            "st": step,
            "lc": locale,
            "blk": plan.block,
            "pf": prefer,
            "ep": self.store.epoch,
        }
        if api is not None:  # absent otherwise: challenges of older releases lack it too
            sealed["ap"] = api
        params = pow_.PowParams(challenge_id, plan.pow_bits, pow_count)
        hidden = [(risk, RISK_WIDTH), (plan.block, BLOCK_WIDTH)]
        if task is not None:  # without a task, "ans" is null and the visitor knows it
            hidden.append((answer, ANSWER_WIDTH))
        return {
            "v": PROTOCOL_VERSION,
            "challenge": self.keyring.seal(
                CHALLENGE_PURPOSE, _hide_widths(orjson.dumps(sealed), hidden)
            ),
            "pow": params.public(),
            "task": task,
            "expires_at": expires,
            "expires_in": self._challenge_ttl,
        }

    # ------------------------------------------------------------------ solve

    async def solve(
        self,
        request: SolveRequest,
        *,
        hostname: str | None,
        telemetry_size: int | None = None,
        now: float | None = None,
        ip_rate: float | None = None,
        spend: Spender | None = None,
        ip: str | None = None,
    ) -> Outcome:
        """Check a solution. ``spend``, when given, replaces the store's spend of the challenge
        (and its request rate replaces ``ip_rate``); ``ip`` is the client's address."""
        now = self.clock() if now is None else now
        try:
            data = orjson.loads(self.keyring.open(CHALLENGE_PURPOSE, request.challenge))
        except (SealError, orjson.JSONDecodeError):
            return Outcome.fail("invalid-challenge")
        site_label = str(data.get("sk", ""))
        outcome = await self._solve_opened(
            data,
            request,
            hostname=hostname,
            telemetry_size=telemetry_size,
            now=now,
            ip_rate=ip_rate,
            spend=spend,
            ip=ip,
        )
        if outcome.kind == "fail":
            self.metrics.count(self.metrics.challenges_failed, site_label, outcome.body["code"])
            if site_label:
                self.counters.add(usage_key(site_label, "f." + outcome.body["code"], now))
            if self.attack is not None:
                self.attack.record_failure(site_label, outcome.body["code"], now)
        else:
            self.metrics.count(self.metrics.challenges_solved, site_label, outcome.kind)
            self.counters.add(usage_key(site_label, "solves", now))
            self.counters.add(usage_key(site_label, "s." + outcome.kind, now))
            if self.attack is not None and outcome.kind == "token":
                self.attack.record(site_label, "solved", now)
        return outcome

    async def _solve_opened(
        self,
        data: dict[str, Any],
        request: SolveRequest,
        *,
        hostname: str | None,
        telemetry_size: int | None,
        now: float,
        ip_rate: float | None = None,
        spend: Spender | None = None,
        ip: str | None = None,
    ) -> Outcome:
        if now >= data["exp"]:
            return Outcome.fail("expired")
        try:
            site = await self.sites.get_by_sitekey(data["sk"])
        except Exception as error:
            log.exception("site lookup failed")
            raise Unavailable("site lookup failed; try again") from error
        if site is None or not site.active:
            return Outcome.fail("invalid-sitekey")
        if site.suspended:
            return Outcome.fail("site-suspended")
        skip_friction = False
        if ip is not None and site.ip_rules is not None:
            verdict = site.ip_rules.match(ip, now)
            if verdict == DENY:
                return Outcome.fail("ip-blocked")
            skip_friction = verdict == ALLOW and site.ip_rules.allow_skips_friction
        # Solving must come from the page that asked, and that page must still be allowed.
        try:
            self.check_hostname(site, hostname)
        except Invalid as error:
            return Outcome.fail(error.code)
        if site.test_mode is None and hostname != data["h"]:
            return Outcome.fail("invalid-hostname")
        if not pow_.check(pow_.PowParams(data["id"], data["pb"], data["pc"]), request.pow):
            return Outcome.fail("invalid-pow")
        # Spend before checking any answer: one attempt per challenge.
        try:
            key, ttl = f"ch:{data['id']}", max(1.0, data["exp"] - now + 1)
            # Challenges of releases before epochs carry none and are checked without.
            epoch = data.get("ep")
            if spend is None:
                first = await self.store.spend(key, ttl, b"1", epoch)
            else:
                first, ip_rate = await spend(key, ttl, b"1", epoch)
        except StaleEpoch:
            return Outcome.fail("expired")
        except StoreUnavailable as error:
            raise Unavailable("the store is unavailable; try again") from error
        if first is not None:
            return Outcome.fail("already-solved")
        if site.test_mode == "fail" or data["blk"]:
            return Outcome.fail("denied")
        task_signals: dict[str, float] | None = None
        if data["ty"] is not None:
            kind = self.registry.get(data["ty"])
            if kind is None:
                return Outcome.fail("wrong-answer")
            checked = kind.check(data["ans"], request.answer)
            if inspect.isawaitable(checked):
                # Types whose check runs a model (handwriting) do it off the event loop.
                checked = await checked
            if not checked.ok:
                return Outcome.fail("wrong-answer")
            task_signals = checked.signals or None
        if skip_friction:
            risk, plan = IP_ALLOWED, NO_FRICTION
            final_risk = 0
        else:
            risk = await self._score(
                request.telemetry, "solve", telemetry_size, ip_rate, task_signals
            )
            # A step-up's own solve may resend the first one's telemetry: only the visit's first
            # is checked; a task's solve is recorded (its telemetry is a person's, and copyable).
            opening = data["ty"] is None and data["st"] == 0
            if await self._replayed(request.telemetry, check=opening) and opening:
                risk = RiskResult(
                    max(risk.risk, REPLAY_RISK), (*risk.reasons, REPLAYED), risk.model
                )
            final_risk = max(risk.risk, data["r"]) if data["ty"] is None else risk.risk
            plan = self._plan(site, risk)
        if plan.block:
            return Outcome.fail("denied")
        if data["ty"] is None and data["st"] == 0 and _needs_more(plan, data):
            challenge = await self._seal_challenge(
                site=site,
                hostname=data["h"],
                action=data["a"],
                cdata=data["cd"],
                locale=data["lc"],
                plan=plan,
                risk=risk.risk,
                step=1,
                now=now,
                prefer=data.get("pf"),
                api=data.get("ap"),
            )
            return Outcome(
                "step_up",
                {"v": PROTOCOL_VERSION, "outcome": "step_up", "challenge": challenge},
            )
        return Outcome(
            "token",
            {
                "v": PROTOCOL_VERSION,
                "outcome": "token",
                # A vendor's passing test sitekey hands out its dummy response, as it does there.
                "token": (site.test_mode is not None and test_sitekey_token(site.sitekey))
                or self._issue_token(data, risk=final_risk, now=now),
                "expires_in": self._token_ttl,
            },
        )

    def _issue_token(self, data: dict[str, Any], *, risk: int, now: float) -> str:
        sitekey = data["sk"]
        add = self.counters.add
        prefix = usage_key(sitekey, "", now)  # one key built, six counted
        add(prefix + risk_label(risk))
        add(prefix + time_label(now - data["iat"]))
        add(prefix + "h." + self._hosts.pick(sitekey, data["h"], now))
        add(prefix + "a." + self._actions.pick(sitekey, data["a"], now))
        add(prefix + ("k.invisible" if data["ty"] is None and data["st"] == 0 else "k.stepped"))
        payload = {
            "id": _new_id(),
            "sk": data["sk"],
            "h": data["h"],
            "a": data["a"],
            "cd": data["cd"],
            "r": risk,
            "ts": int(now),
            "exp": int(now + self._token_ttl),
            "ep": self.store.epoch,
        }
        api = data.get("ap")
        if api is not None:
            payload["ap"] = api
        plaintext = _hide_widths(orjson.dumps(payload), [(risk, RISK_WIDTH)])
        token = self.keyring.seal(TOKEN_PURPOSE, plaintext)
        # The request limits (sitekey, hostname, action, cdata) keep a token under about 1,000
        # characters; this guards those limits from drifting apart.
        if len(token) > MAX_TOKEN_CHARS:
            raise RuntimeError("a token outgrew its limit; check the field limits")
        return token
