"""One typed Settings for the whole process.

Environment variables use the prefix ``HAECHI_`` and ``__`` for nesting, e.g.
``HAECHI_DB__URL`` or ``HAECHI_STORE__URL``. Defaults run the embedded mode: SQLite in the data
directory, an in-process store and in-process jobs. Keys that sign and seal are generated into the
data directory on first start in development; in production they must be given explicitly.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = Literal["all", "edge", "platform"]


def _check_cidrs(value: list[str]) -> list[str]:
    for cidr in value:
        ipaddress.ip_network(cidr, strict=False)
    return value


# A list of networks in CIDR notation, e.g. ["10.0.0.0/8", "::1/128"].
Cidrs = Annotated[list[str], AfterValidator(_check_cidrs)]


class DbSettings(BaseModel):
    # Empty means "SQLite file in the data directory".
    url: str = ""
    echo: bool = False
    pool_size: int = 10
    auto_migrate: bool = True


class StoreSettings(BaseModel):
    # "memory" or a redis:// URL.
    url: str = "memory"
    key_prefix: str = "haechi:"
    # How often in-process counters are flushed to the store.
    counter_flush_seconds: float = 1.0

    @property
    def is_memory(self) -> bool:
        return self.url == "memory"


class JobsSettings(BaseModel):
    # "inprocess" or "redis" (SAQ on the store's Redis, or on ``url`` when given).
    backend: Literal["inprocess", "redis"] = "inprocess"
    url: str = ""
    queue: str = "haechi"


class S3Settings(BaseModel):
    """S3-compatible storage for ``blobs.backend = "s3"``. Empty credentials fall back to
    boto3's own chain (environment, instance role)."""

    endpoint_url: str = ""
    # The host browsers reach, when it differs from ``endpoint_url`` (presigned URLs name it).
    public_endpoint_url: str = ""
    bucket: str = ""
    region: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""
    # Key prefix inside the bucket, so several deployments can share one.
    prefix: str = ""
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0
    max_connections: int = 32


class BlobsSettings(BaseModel):
    # "fs": a local folder, URLs signed and served by the edge; "s3": presigned URLs.
    backend: Literal["fs", "s3"] = "fs"
    # fs: the folder; empty means "<data dir>/blobs".
    path: str = ""
    # fs: the edge's public origin URLs start with, e.g. "https://captcha.example.com";
    # empty gives paths ("/v1/blob/...") that the widget resolves against its endpoint.
    public_url: str = ""
    # Life of a blob URL; a challenge's clip must outlive the time a visitor takes.
    url_ttl_seconds: int = Field(default=300, ge=10, le=24 * 3600)
    s3: S3Settings = Field(default_factory=S3Settings)


class PoolSettings(BaseModel):
    """Pre-generated challenge pools (audio clips, images) kept in the blob store."""

    # How often each serving process looks for a newer pool generation.
    refresh_seconds: float = Field(default=30.0, gt=0)
    # How long a replaced generation's blobs stay, so URLs already handed out keep working.
    grace_seconds: int = Field(default=3600, ge=0)
    # A pool with fewer items is not offered (the policy falls back as if the type were absent).
    min_items: int = Field(default=50, ge=1)
    # Serve pool items through per-challenge aliases (/v1/media/<sealed key>) so that the same
    # picture never has the same URL twice. Off: the backend's URL for the item's key (an S3
    # presigned URL goes straight to the bucket, but a bot can memorise URL -> answer).
    alias_urls: bool = True
    # Starter pools and rotation (the ``pool.maintain`` job: once at start, then every
    # minute): a pool-backed type whose pool is missing or below ``min_items`` gets a generation
    # of ``starter_items`` built in the background, and a generation older than
    # ``rotate_seconds`` is rebuilt at its size (0: never). In embedded mode this runs inside
    # ``haechi serve``; with HAECHI_JOBS__BACKEND=redis on ``haechi worker``.
    starter: bool = True
    starter_items: int = Field(default=200, ge=1, le=100_000)
    rotate_seconds: int = Field(default=3600, ge=0)
    # Each showing of a pool item through an alias gets its own rendering (crop, rotation,
    # mirror, noise; audio: gain, lead-in, dither), so a harvested item's hash or perceptual
    # hash matches no later showing (haechi.challenges.variation).
    vary_per_serve: bool = True


class KeySettings(BaseModel):
    """Keys shared by every replica.

    ``keyring`` maps a key id to a base64url secret of at least 32 bytes; ``active`` is the id
    that seals and signs. Old ids stay in the ring so that challenges and tokens issued under them
    still open while they live: rotation is "add a key, make it active, drop the old one later".
    ``secret_pepper`` keys the HMAC digest under which site secrets are stored.
    """

    keyring: dict[str, str] = Field(default_factory=dict)
    active: str = ""
    secret_pepper: str = ""


class ProtocolSettings(BaseModel):
    challenge_ttl_seconds: int = 300
    token_ttl_seconds: int = 300
    # Repeated /siteverify with the same idempotency_key returns the first answer this long.
    idempotency_ttl_seconds: int = 300
    secret_grace_seconds: int = 24 * 3600
    site_cache_ttl_seconds: float = 5.0
    max_body_bytes: int = 96 * 1024
    max_telemetry_bytes: int = 64 * 1024
    # Largest difficulty a plan may ask for, and most sub-puzzles.
    max_pow_bits: int = 26
    max_pow_count: int = 64


class RateLimitSettings(BaseModel):
    enabled: bool = True
    window_seconds: int = 10
    per_ip: int = 300
    per_sitekey: int = 50_000
    # /siteverify per calling IP (site backends): generous, it bounds secret guessing and the
    # database lookups unknown secrets cost.
    siteverify_per_ip: int = 20_000
    # GET /v1/blob/... and /v1/media/... per client IP: a visual challenge loads up to ten.
    blobs_per_ip: int = 1_500


class PlanBand(BaseModel):
    """One row of the policy table: a risk band and the friction it gets."""

    max_risk: int = Field(ge=0, le=100)
    pow_bits: int = Field(ge=0, le=32)
    pow_count: int = Field(default=1, ge=0, le=256)
    # Challenge types tried in order; the first one that is installed is used.
    challenges: list[str] = Field(default_factory=list)
    block: bool = False


def _default_bands() -> list[PlanBand]:
    # The seed system's bands (<=10 pass, 11-25 grid, 26-40 abstract, 41-90 handwriting, >=91
    # block), reordered by what the red team measured (docs/challenges.md, "What holds"): grid
    # cost a trained bot more than abstract did, so it comes first wherever both are offered.
    return [
        PlanBand(max_risk=10, pow_bits=13, pow_count=4),
        PlanBand(max_risk=25, pow_bits=14, pow_count=4, challenges=["grid"]),
        PlanBand(max_risk=40, pow_bits=14, pow_count=6, challenges=["grid", "abstract"]),
        PlanBand(
            max_risk=90, pow_bits=15, pow_count=6, challenges=["handwriting", "grid", "abstract"]
        ),
        PlanBand(max_risk=100, pow_bits=16, pow_count=8, block=True),
    ]


class PolicySettings(BaseModel):
    bands: list[PlanBand] = Field(default_factory=_default_bands)
    # When a band asks for visual types and none is installed, the PoW gets this much heavier.
    fallback_extra_bits: int = 2
    # Added to risk by a site's security level before the band is chosen.
    security_offsets: dict[str, int] = Field(
        default_factory=lambda: {"low": -10, "medium": 0, "high": 15, "strict": 30}
    )
    # Missing or empty telemetry is never a free pass, and never a block on its own:
    # its risk is capped below the first blocking band.
    missing_telemetry_risk: int = 30
    # Challenge types that exist for tests only (e.g. "glyph") are offered only when listed.
    enabled_test_types: list[str] = Field(default_factory=list)
    # Sites at security level "test" (proof-of-work only) are refused when HAECHI_ENV=production
    # unless this is set; there they count as "medium".
    allow_test_level: bool = False

    @field_validator("bands")
    @classmethod
    def _bands_cover_0_to_100(cls, bands: list[PlanBand]) -> list[PlanBand]:
        if not bands:
            raise ValueError("policy needs at least one band")
        limits = [b.max_risk for b in bands]
        if limits != sorted(limits) or len(set(limits)) != len(limits):
            raise ValueError("bands must be sorted by max_risk, without repeats")
        if limits[-1] != 100:
            raise ValueError("the last band must end at max_risk 100")
        return bands


class AttackSettings(BaseModel):
    """The automatic per-site attack level (``haechi.risk.attack``; docs/risk-model.md)."""

    enabled: bool = True
    # Baselines: EWMA of challenges per minute and of the solve failure rate.
    baseline_half_life_minutes: float = Field(default=60.0, gt=0)
    # A raised level halves this often once the spike is over.
    decay_half_life_minutes: float = Field(default=10.0, gt=0)
    # A volume spike: at least min_volume challenges in a minute and more than ratio x baseline.
    volume_ratio: float = Field(default=3.0, gt=1)
    min_volume: int = Field(default=30, ge=1)
    # A failure spike: at least min_attempts solves and the failure rate this far above baseline.
    failure_jump: float = Field(default=0.25, gt=0, le=1)
    min_attempts: int = Field(default=20, ge=1)
    # Level per severity step (added to risk like a security offset), and its ceiling.
    step: int = Field(default=10, ge=0, le=50)
    max_level: int = Field(default=30, ge=0, le=100)
    # How often each process reads the shared levels.
    refresh_seconds: float = Field(default=5.0, gt=0)


class RiskSettings(BaseModel):
    """The risk engine: the behaviour model, its fallback, request signals, attack level."""

    # Empty: the model shipped in haechi/models.
    model_path: Path | None = None
    # Run the model on worker threads under a deadline (see haechi.risk.engine), or inline;
    # payloads with fewer events than offload_min_events run inline either way.
    offload: bool = True
    offload_min_events: int = Field(default=0, ge=0)
    model_timeout_ms: float = Field(default=250.0, gt=0)
    model_threads: int = Field(default=1, ge=1, le=16)
    # The base risk when the model fails or times out: more friction, never a pass or a block.
    model_failure_risk: int = Field(default=45, ge=0, le=90)
    # Where the behaviour model judges the movement. "solve" (default): once per visit, at
    # /v1/solve, where the telemetry is longest; /v1/challenge plans from the request signals,
    # and a visitor whose movement looks automated is stepped up there (a visual task, or more
    # proof-of-work). "both": also at /v1/challenge, so such a visitor sees the task at once,
    # at the price of a second model run per visit (see docs/risk-model.md, Serving).
    behaviour_at: Literal["solve", "both"] = "solve"
    # Requests per second from one address: points start above low and are full at high.
    ip_rate_low: float = Field(default=5.0, ge=0)
    ip_rate_high: float = Field(default=25.0, gt=0)
    ip_rate_points: int = Field(default=30, ge=0, le=60)
    attack: AttackSettings = Field(default_factory=AttackSettings)

    @model_validator(mode="after")
    def _rate_band(self) -> RiskSettings:
        if self.ip_rate_low >= self.ip_rate_high:
            raise ValueError("risk.ip_rate_low must be below risk.ip_rate_high")
        return self


class MetricsSettings(BaseModel):
    """Who may read /metrics: socket peers in ``allow`` (never taken from X-Forwarded-For), or
    anyone presenting ``Authorization: Bearer <token>`` when a token is set. It lists every
    site's traffic, so it is not public."""

    allow: Cidrs = Field(
        default_factory=lambda: [
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "fc00::/7",
        ]
    )
    token: str = ""


class ServerSettings(BaseModel):
    """What one HTTP connection may hold (``haechi serve``; docs/operations.md, "Connection
    limits"). A request whose head passes either bound gets 431; a head or body that takes
    longer than its timeout gets 408 and the connection is closed."""

    # The request line and the header fields together, in bytes, and the number of fields.
    max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    max_header_fields: int = Field(default=100, ge=8, le=1000)
    # From a connection's opening (or a request's first byte) to the end of its head.
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    # From the end of a request's head to the end of its body.
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    # How long an idle keep-alive connection stays open between requests.
    keep_alive_seconds: float = Field(default=5.0, gt=0)
    # Open connections per server process; more are answered 503 and closed at once. Capped
    # below the process's open-file limit at start.
    max_connections: int = Field(default=2048, ge=1)


class LogSettings(BaseModel):
    level: str = "INFO"
    json_format: bool = Field(default=True, alias="json")
    access: bool = True


class SmtpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=587, ge=1, le=65535)
    # "starttls": upgrade a plain connection (port 587); "tls": TLS from the start (465);
    # "none": plain text, for a relay on loopback only.
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    password: str = ""
    timeout_seconds: float = Field(default=10.0, gt=0)
    # PEM file of the CAs to trust for the server's certificate instead of the system's (a
    # private relay's own CA); the certificate and its hostname are always checked.
    ca_file: Path | None = None


class EmailSettings(BaseModel):
    """Transactional mail (docs/platform.md, E-mail). ``file`` writes ``.eml`` files into
    ``<data dir>/mail`` (the embedded default); ``smtp`` sends through ``smtp``."""

    backend: Literal["file", "smtp"] = "file"
    from_address: str = "Haechi <no-reply@localhost>"
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    # Tries before a message is parked in the dead-letter state, and the pause between them.
    max_attempts: int = Field(default=5, ge=1, le=50)
    retry_delay_seconds: float = Field(default=30.0, ge=0)


class PlatformSettings(BaseModel):
    """The platform API (/api): accounts, sign-in, organisations (docs/platform.md)."""

    # Where links in e-mails point (the dashboard's origin), e.g. "https://captcha.example.com".
    public_url: str = "http://127.0.0.1:8080"
    access_token_seconds: int = Field(default=900, ge=30, le=3600)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    # A refresh token used again within this many seconds of its rotation (two tabs racing)
    # gets a new access token; later reuse revokes the whole session.
    refresh_grace_seconds: float = Field(default=5.0, ge=0, le=60)
    # Refresh cookies are Secure; only tests over plain http turn this off.
    secure_cookies: bool = True
    verify_email_hours: int = Field(default=48, ge=1)
    reset_password_minutes: int = Field(default=30, ge=5)
    invitation_days: int = Field(default=7, ge=1)
    # Failed sign-ins: per account and per IP in a sliding window (docs/platform.md).
    login_window_seconds: int = Field(default=900, ge=1)
    login_per_account: int = Field(default=10, ge=1)
    login_per_ip: int = Field(default=100, ge=1)
    # Requests per minute for one management API key.
    api_key_per_minute: int = Field(default=600, ge=1)
    audit_retention_days: int = Field(default=365, ge=1)
    # Usage roll-ups (docs/usage-and-billing.md): hourly rows for the 24 h to 90 d charts, daily
    # rows for 12 months and invoices.
    usage_hourly_days: int = Field(default=93, ge=2)
    usage_daily_days: int = Field(default=800, ge=32)
    # On Redis, how long the roll-up waits after sealing a flush before SQL records it: covers
    # appendfsync everysec (docs/operations.md). Ignored on the embedded store.
    usage_fsync_wait_seconds: float = Field(default=2.0, ge=0, le=30)
    # Argon2id for passwords; hashes made under other parameters are redone at sign-in.
    argon2_time_cost: int = Field(default=3, ge=1, le=20)
    argon2_memory_kib: int = Field(default=65536, ge=8, le=4 * 1024 * 1024)
    argon2_parallelism: int = Field(default=4, ge=1, le=16)
    # Sign in with Google (OpenID Connect, docs/platform.md): off while the client id is empty.
    # The discovery URL may point at another provider (``haechi dev fake-oidc`` in tests).
    google_client_id: str = ""
    google_client_secret: str = ""
    google_discovery_url: str = "https://accounts.google.com/.well-known/openid-configuration"
    # Where the provider sends the browser back; empty: public_url + /api/v1/auth/google/callback.
    google_redirect_url: str = ""
    # Passkeys (WebAuthn): the relying party id (a domain: public_url's host when empty) and the
    # name authenticators show. The expected origin is public_url's.
    webauthn_rp_id: str = ""
    webauthn_rp_name: str = "Haechi"


class BillingSettings(BaseModel):
    """Card subscriptions through Toss Payments (docs/usage-and-billing.md). The secret key lives
    only here (``HAECHI_BILLING__TOSS_SECRET_KEY``); empty turns billing off."""

    # The real API, or the loopback fake (``haechi dev fake-toss``) in tests and the demo.
    toss_api_url: str = "https://api.tosspayments.com"
    toss_secret_key: str = ""
    toss_timeout_seconds: float = Field(default=30.0, gt=0, le=120)
    # The public client key the dashboard's Toss SDK opens the card-registration window with.
    toss_client_key: str = ""
    # Invoices: numbered PREFIX-YEAR-000001 (gap-free per year), issued by the seller below.
    invoice_prefix: str = Field(default="HAE", pattern=r"^[A-Z0-9]{1,12}$")
    seller_name: str = "Haechi"
    seller_registration_number: str = ""  # 사업자등록번호
    seller_address: str = ""


class PlanSpec(BaseModel):
    """One plan of the catalogue (haechi.platform.plans; docs/usage-and-billing.md, Plans).
    ``None`` limits are unlimited. Prices are monthly, in KRW, VAT included."""

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    name: str = Field(min_length=1, max_length=100)
    price_krw: int = Field(default=0, ge=0)
    # Verified tokens a month.
    monthly_quota: int | None = Field(default=None, ge=0)
    max_sites: int | None = Field(default=None, ge=0)
    max_members: int | None = Field(default=None, ge=1)
    # Features: analytics retention, IP allow/deny rules, audit-log export.
    retention_days: int = Field(default=30, ge=1)
    ip_rules: bool = False
    audit_export: bool = False
    # Price of each started 1,000 verified tokens over the quota in "overage" mode (KRW, VAT
    # included).
    overage_krw_per_1000: int = Field(default=0, ge=0)


def _default_plans() -> list[PlanSpec]:
    return [
        PlanSpec(
            key="free", name="Free", price_krw=0, monthly_quota=10_000, max_sites=3,
            max_members=3, retention_days=30,
        ),
        PlanSpec(
            key="pro", name="Pro", price_krw=49_000, monthly_quota=500_000, max_sites=20,
            max_members=10, retention_days=90, ip_rules=True, overage_krw_per_1000=100,
        ),
        PlanSpec(
            key="business", name="Business", price_krw=290_000, monthly_quota=5_000_000,
            max_sites=100, max_members=50, retention_days=365, ip_rules=True,
            audit_export=True, overage_krw_per_1000=60,
        ),
        PlanSpec(
            key="enterprise", name="Enterprise", price_krw=1_900_000, monthly_quota=None,
            max_sites=None, max_members=None, retention_days=800, ip_rules=True,
            audit_export=True,
        ),
    ]  # fmt: skip


class PlansSettings(BaseModel):
    """Plans and quotas (docs/usage-and-billing.md, Plans). Off by default: self-hosted and
    embedded installs give every organisation the unlimited plan, so nothing is throttled. A
    SaaS operator turns them on (``HAECHI_PLANS__ENABLED=true``)."""

    enabled: bool = False
    # The plan of an organisation that has none assigned.
    default_plan: str = "free"
    catalogue: list[PlanSpec] = Field(default_factory=_default_plans)
    # How long an organisation past 100 % of its quota keeps being served as before.
    grace_hours: float = Field(default=72.0, ge=0)
    # After the grace period: "overage" keeps serving and counts the overage for the invoice;
    # "step-up" gives every visitor a visual task; "block" refuses new challenges
    # (quota-exceeded). Never a pass without a challenge.
    over_quota: Literal["overage", "step-up", "block"] = "step-up"
    # How often the quota job recounts every organisation's month.
    check_seconds: float = Field(default=60.0, ge=1)

    @model_validator(mode="after")
    def _default_in_catalogue(self) -> PlansSettings:
        keys = [p.key for p in self.catalogue]
        if len(set(keys)) != len(keys):
            raise ValueError("plans.catalogue has two plans with one key")
        if self.default_plan not in keys:
            raise ValueError(f"plans.default_plan {self.default_plan!r} is not in the catalogue")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HAECHI_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
    )

    env: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path(".haechi")
    role: Role = "all"
    # CIDRs whose X-Forwarded-For is believed.
    trusted_proxies: Cidrs = Field(default_factory=list)

    db: DbSettings = Field(default_factory=DbSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    blobs: BlobsSettings = Field(default_factory=BlobsSettings)
    pools: PoolSettings = Field(default_factory=PoolSettings)
    keys: KeySettings = Field(default_factory=KeySettings)
    protocol: ProtocolSettings = Field(default_factory=ProtocolSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    platform: PlatformSettings = Field(default_factory=PlatformSettings)
    billing: BillingSettings = Field(default_factory=BillingSettings)
    plans: PlansSettings = Field(default_factory=PlansSettings)

    @model_validator(mode="after")
    def _production_needs_real_keys(self) -> Settings:
        if self.env == "production":
            missing = [
                name
                for name, present in (
                    ("HAECHI_KEYS__KEYRING", bool(self.keys.keyring)),
                    ("HAECHI_KEYS__ACTIVE", bool(self.keys.active)),
                    ("HAECHI_KEYS__SECRET_PEPPER", bool(self.keys.secret_pepper)),
                )
                if not present
            ]
            if missing:
                raise ValueError("production refuses generated keys; set " + ", ".join(missing))
        return self

    @cached_property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(c, strict=False) for c in self.trusted_proxies)

    @property
    def database_url(self) -> str:
        if self.db.url:
            return self.db.url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'haechi.db').resolve()}"
