"""What a month of the deployed configuration costs for a usage profile, item by item.

The model follows what the stacks in `infra/` create: a Fargate Spot ARM64 task per active
user with a public IPv4 address (no NAT gateway), Lambdas for every message and a watchdog
every minute, API Gateway WebSocket + HTTP APIs, on-demand DynamoDB, a FIFO inbox queue per
user that the task long-polls, a versioned S3 state bucket, CloudWatch Logs and alarms, the
agent image in ECR and the web app on CloudFront. LLM tokens are paid to the model provider,
not AWS, so they are reported apart from the AWS total.

Free tiers are off by default: they belong to the account, and another workload may already
use them. `docs/cost.md` explains each assumption and shows the figures the CLI prints.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from serverless_openclaw.core.prices import US_EAST_1, FreeTier, PriceTable

MINUTES_PER_HOUR = 60
MB_PER_GB = 1024
MILLION = 1_000_000


class UsageProfile(BaseModel):
    """How the deployment is used. Per-user quantities are multiplied by `users`.

    The defaults are the worked example of the shared price notes plus what it leaves out
    (SQS, HTTP API, S3 versions and GETs, alarms, the image in ECR, the web app).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    users: int = Field(default=1, ge=0)
    hours_per_day: float = Field(default=2.0, ge=0, le=24)
    """Hours each user's agent task runs a day, idle tail before the watchdog stops it included."""
    messages_per_day: float = Field(default=50, ge=0)
    """Chat messages a user sends a day (each one gets one streamed reply)."""
    days_per_month: int = Field(default=30, ge=1, le=31)

    # --- the agent task ---------------------------------------------------------------------
    task_vcpu: float = Field(default=1.0, gt=0)
    task_memory_gb: float = Field(default=2.0, gt=0)
    spot: bool = True
    public_ipv4: bool = True
    """A public IP on each task (our design); False with `nat_gateways` for the comparison."""
    nat_gateways: int = Field(default=0, ge=0)
    nat_gb_per_month: float = Field(default=1.0, ge=0)
    """Data through the NAT gateways (image pulls, LLM calls); only counted with a NAT."""
    task_starts_per_day: float = Field(default=2.0, ge=0)

    # --- API Gateway ------------------------------------------------------------------------
    ws_frames_per_message: float = Field(default=30, ge=0)
    """Frames sent to the browser per reply (ack, status, coalesced chunks, end)."""
    ws_frames_in_per_message: float = Field(default=1, ge=0)
    connected_minutes_per_day: float = Field(default=60, ge=0)
    """Minutes a browser tab holds a WebSocket open, per user and day."""
    http_requests_per_day: float = Field(default=20, ge=0)

    # --- Lambda -----------------------------------------------------------------------------
    lambda_invocations_per_message: float = Field(default=1, ge=0)
    lambda_memory_mb: float = Field(default=256, gt=0)
    lambda_ms: float = Field(default=200, ge=0)
    watchdog_per_hour: float = Field(default=60, ge=0)
    watchdog_memory_mb: float = Field(default=256, gt=0)
    watchdog_ms: float = Field(default=300, ge=0)

    # --- DynamoDB (on demand) ---------------------------------------------------------------
    dynamodb_writes_per_message: float = Field(default=20, ge=0)
    dynamodb_reads_per_message: float = Field(default=40, ge=0)
    """Strongly consistent reads of up to 4 KB (one read request unit each)."""
    dynamodb_storage_gb: float = Field(default=0.1, ge=0)
    dynamodb_pitr: bool = True
    """Point-in-time recovery is on for every table (the Storage stack)."""

    # --- SQS (FIFO inbox per user) ----------------------------------------------------------
    sqs_requests_per_message: float = Field(default=3, ge=0)
    """Send, receive, delete."""
    sqs_polls_per_task_minute: float = Field(default=3, ge=0)
    """Empty long polls (20 s waits) while the task runs: each one is a billed request."""

    # --- S3 state bucket --------------------------------------------------------------------
    s3_state_gb: float = Field(default=0.05, ge=0)
    s3_puts_per_task_hour: float = Field(default=20, ge=0)
    s3_changed_gb_per_task_hour: float = Field(default=0.005, ge=0)
    """Bytes rewritten by incremental syncs: each overwrite leaves a noncurrent version."""
    s3_noncurrent_days: float = Field(default=3, ge=0)
    """The lifecycle rule expires noncurrent versions after this many days."""
    s3_gets_per_start: float = Field(default=50, ge=0)

    # --- CloudWatch, ECR, web ---------------------------------------------------------------
    logs_gb_per_month: float = Field(default=0.1, ge=0)
    custom_metrics: int = Field(default=0, ge=0)
    alarms: int = Field(default=1, ge=0)
    ecr_image_gb: float = Field(default=0.5, ge=0)
    """Compressed size of the agent image stored in ECR (one version kept)."""
    web_page_loads_per_day: float = Field(default=5, ge=0)
    web_page_mb: float = Field(default=1.0, ge=0)
    web_requests_per_load: float = Field(default=10, ge=0)

    # --- LLM (reported apart) ---------------------------------------------------------------
    llm_input_tokens_per_message: float = Field(default=8000, ge=0)
    """OpenClaw sends its system prompt, tools and history with every turn."""
    llm_output_tokens_per_message: float = Field(default=500, ge=0)
    llm_input_usd_per_mtok: float | None = Field(default=None, ge=0)
    llm_output_usd_per_mtok: float | None = Field(default=None, ge=0)


@dataclass(frozen=True, kw_only=True)
class CostItem:
    key: str
    service: str
    description: str
    quantity: float
    unit: str
    unit_usd: float
    free_quantity: float = 0.0
    """Part of the quantity covered by the always-free tier (when asked for)."""

    @property
    def usd(self) -> float:
        return max(0.0, self.quantity - self.free_quantity) * self.unit_usd


@dataclass(frozen=True, kw_only=True)
class LlmEstimate:
    input_tokens: float
    output_tokens: float
    usd: float | None
    """None when no token prices were given: the provider's price list is not ours to guess."""


@dataclass(frozen=True, kw_only=True)
class CostEstimate:
    profile: UsageProfile
    prices: PriceTable
    free_tier: bool
    items: tuple[CostItem, ...]
    llm: LlmEstimate

    @property
    def total_usd_per_month(self) -> float:
        return sum(item.usd for item in self.items)

    def by_service(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for item in self.items:
            totals[item.service] += item.usd
        return dict(totals)

    def item(self, key: str) -> CostItem:
        for candidate in self.items:
            if candidate.key == key:
                return candidate
        raise KeyError(key)

    def as_dict(self) -> dict[str, object]:
        """The JSON the CLI prints (`cost --json`)."""
        return {
            "region": self.prices.region,
            "prices_as_of": self.prices.as_of,
            "prices_source": self.prices.source,
            "free_tier": self.free_tier,
            "profile": self.profile.model_dump(),
            "items": [
                {
                    "key": item.key,
                    "service": item.service,
                    "description": item.description,
                    "quantity": item.quantity,
                    "unit": item.unit,
                    "unit_usd": item.unit_usd,
                    "free_quantity": item.free_quantity,
                    "usd": item.usd,
                }
                for item in self.items
            ],
            "by_service": self.by_service(),
            "total_usd_per_month": self.total_usd_per_month,
            "llm": {
                "input_tokens_per_month": self.llm.input_tokens,
                "output_tokens_per_month": self.llm.output_tokens,
                "usd_per_month": self.llm.usd,
                "included_in_total": False,
            },
        }


@dataclass(frozen=True)
class _Month:
    """The quantities every service's items are computed from."""

    p: UsageProfile
    prices: PriceTable
    free_tier: bool

    @property
    def free(self) -> FreeTier:
        return self.prices.free_tier

    @property
    def month_hours(self) -> float:
        return 24 * self.p.days_per_month

    @property
    def task_hours(self) -> float:
        return self.p.users * self.p.hours_per_day * self.p.days_per_month

    @property
    def messages(self) -> float:
        return self.p.users * self.p.messages_per_day * self.p.days_per_month

    @property
    def starts(self) -> float:
        return self.p.users * self.p.task_starts_per_day * self.p.days_per_month


def _compute(m: _Month) -> list[CostItem]:
    """Fargate and the public IPv4 address of each running task (or a NAT gateway)."""
    p = m.p
    prices = m.prices
    month_hours = m.month_hours
    task_hours = m.task_hours
    items: list[CostItem] = []
    add = items.append
    kind = "Fargate Spot" if p.spot else "Fargate"
    add(
        CostItem(
            key="fargate_vcpu",
            service="Fargate",
            description=f"{kind} ARM64 vCPU ({p.task_vcpu:g} vCPU x {task_hours:g} task-hours)",
            quantity=p.task_vcpu * task_hours,
            unit="vCPU-hour",
            unit_usd=prices.fargate_spot_vcpu_hour if p.spot else prices.fargate_vcpu_hour,
        )
    )
    add(
        CostItem(
            key="fargate_memory",
            service="Fargate",
            description=f"{kind} ARM64 memory ({p.task_memory_gb:g} GB x {task_hours:g} h)",
            quantity=p.task_memory_gb * task_hours,
            unit="GB-hour",
            unit_usd=prices.fargate_spot_gb_hour if p.spot else prices.fargate_gb_hour,
        )
    )
    if p.public_ipv4:
        add(
            CostItem(
                key="public_ipv4",
                service="VPC",
                description="public IPv4 address of each running task",
                quantity=task_hours,
                unit="address-hour",
                unit_usd=prices.public_ipv4_hour,
            )
        )
    if p.nat_gateways:
        add(
            CostItem(
                key="nat_gateway",
                service="VPC",
                description=f"{p.nat_gateways} NAT gateway(s), all month",
                quantity=p.nat_gateways * month_hours,
                unit="hour",
                unit_usd=prices.nat_gateway_hour,
            )
        )
        add(
            CostItem(
                key="nat_public_ipv4",
                service="VPC",
                description="the NAT gateways' own public IPv4 addresses",
                quantity=p.nat_gateways * month_hours,
                unit="address-hour",
                unit_usd=prices.public_ipv4_hour,
            )
        )
        add(
            CostItem(
                key="nat_data",
                service="VPC",
                description="data processed by the NAT gateways",
                quantity=p.nat_gb_per_month,
                unit="GB",
                unit_usd=prices.nat_gateway_gb,
            )
        )
    return items


def _lambdas(m: _Month) -> list[CostItem]:
    """The handlers per message and the watchdog every minute."""
    p = m.p
    prices = m.prices
    free_tier = m.free_tier
    free = m.free
    month_hours = m.month_hours
    messages = m.messages
    items: list[CostItem] = []
    add = items.append
    watchdog_runs = p.watchdog_per_hour * month_hours
    handler_runs = messages * p.lambda_invocations_per_message
    requests = watchdog_runs + handler_runs
    gb_seconds = (
        watchdog_runs * p.watchdog_memory_mb / MB_PER_GB * p.watchdog_ms / 1000
        + handler_runs * p.lambda_memory_mb / MB_PER_GB * p.lambda_ms / 1000
    )
    add(
        CostItem(
            key="lambda_requests",
            service="Lambda",
            description=f"{handler_runs:g} handler + {watchdog_runs:g} watchdog invocations",
            quantity=requests,
            unit="request",
            unit_usd=prices.lambda_per_million_requests / MILLION,
            free_quantity=min(requests, free.lambda_requests) if free_tier else 0.0,
        )
    )
    add(
        CostItem(
            key="lambda_duration",
            service="Lambda",
            description="ARM64 duration (handlers and the every-minute watchdog)",
            quantity=gb_seconds,
            unit="GB-second",
            unit_usd=prices.lambda_arm_gb_second,
            free_quantity=min(gb_seconds, free.lambda_gb_seconds) if free_tier else 0.0,
        )
    )
    add(
        CostItem(
            key="eventbridge_schedule",
            service="EventBridge",
            description="scheduled rule that runs the watchdog",
            quantity=watchdog_runs,
            unit="invocation",
            unit_usd=prices.eventbridge_scheduled_invocation,
        )
    )
    return items


def _api_gateway(m: _Month) -> list[CostItem]:
    """WebSocket messages and connection minutes, HTTP API requests."""
    p = m.p
    prices = m.prices
    messages = m.messages
    items: list[CostItem] = []
    add = items.append
    add(
        CostItem(
            key="websocket_messages",
            service="API Gateway",
            description="WebSocket messages (frames in and out, 32 KB units)",
            quantity=messages * (p.ws_frames_per_message + p.ws_frames_in_per_message),
            unit="message",
            unit_usd=prices.websocket_per_million_messages / MILLION,
        )
    )
    add(
        CostItem(
            key="websocket_minutes",
            service="API Gateway",
            description="WebSocket connection minutes",
            quantity=p.users * p.connected_minutes_per_day * p.days_per_month,
            unit="connection-minute",
            unit_usd=prices.websocket_per_million_connection_minutes / MILLION,
        )
    )
    add(
        CostItem(
            key="http_api_requests",
            service="API Gateway",
            description="HTTP API requests (REST calls of the web app, Telegram webhooks)",
            quantity=p.users * p.http_requests_per_day * p.days_per_month,
            unit="request",
            unit_usd=prices.http_api_per_million_requests / MILLION,
        )
    )
    return items


def _dynamodb(m: _Month) -> list[CostItem]:
    """On-demand reads and writes, storage, point-in-time recovery."""
    p = m.p
    prices = m.prices
    free_tier = m.free_tier
    free = m.free
    messages = m.messages
    items: list[CostItem] = []
    add = items.append
    add(
        CostItem(
            key="dynamodb_writes",
            service="DynamoDB",
            description="on-demand write request units",
            quantity=messages * p.dynamodb_writes_per_message,
            unit="WRU",
            unit_usd=prices.dynamodb_per_million_wru / MILLION,
        )
    )
    add(
        CostItem(
            key="dynamodb_reads",
            service="DynamoDB",
            description="on-demand read request units (strongly consistent)",
            quantity=messages * p.dynamodb_reads_per_message,
            unit="RRU",
            unit_usd=prices.dynamodb_per_million_rru / MILLION,
        )
    )
    add(
        CostItem(
            key="dynamodb_storage",
            service="DynamoDB",
            description="table storage",
            quantity=p.dynamodb_storage_gb,
            unit="GB-month",
            unit_usd=prices.dynamodb_gb_month,
            free_quantity=min(p.dynamodb_storage_gb, free.dynamodb_storage_gb)
            if free_tier
            else 0.0,
        )
    )

    if p.dynamodb_pitr:
        add(
            CostItem(
                key="dynamodb_backups",
                service="DynamoDB",
                description="point-in-time recovery (continuous backups)",
                quantity=p.dynamodb_storage_gb,
                unit="GB-month",
                unit_usd=prices.dynamodb_pitr_gb_month,
            )
        )
    return items


def _sqs(m: _Month) -> list[CostItem]:
    """Inbox requests, empty long polls included."""
    p = m.p
    prices = m.prices
    free_tier = m.free_tier
    free = m.free
    task_hours = m.task_hours
    messages = m.messages
    items: list[CostItem] = []
    add = items.append
    sqs_requests = (
        messages * p.sqs_requests_per_message
        + task_hours * MINUTES_PER_HOUR * p.sqs_polls_per_task_minute
    )
    add(
        CostItem(
            key="sqs_requests",
            service="SQS",
            description="FIFO inbox requests, empty long polls included",
            quantity=sqs_requests,
            unit="request",
            unit_usd=prices.sqs_fifo_per_million / MILLION,
            free_quantity=min(sqs_requests, free.sqs_requests) if free_tier else 0.0,
        )
    )
    return items


def _s3(m: _Month) -> list[CostItem]:
    """The state bucket: storage, noncurrent versions, PUTs and GETs."""
    p = m.p
    prices = m.prices
    task_hours = m.task_hours
    starts = m.starts
    items: list[CostItem] = []
    add = items.append
    add(
        CostItem(
            key="s3_storage",
            service="S3",
            description="current state of every user's agent",
            quantity=p.users * p.s3_state_gb,
            unit="GB-month",
            unit_usd=prices.s3_gb_month,
        )
    )
    # Each noncurrent version lives `s3_noncurrent_days` before the lifecycle rule expires it.
    noncurrent_gb = (
        p.users
        * p.hours_per_day
        * p.s3_changed_gb_per_task_hour
        * min(p.s3_noncurrent_days, p.days_per_month)
    )
    add(
        CostItem(
            key="s3_versions",
            service="S3",
            description=f"noncurrent versions, expired after {p.s3_noncurrent_days:g} days",
            quantity=noncurrent_gb,
            unit="GB-month",
            unit_usd=prices.s3_gb_month,
        )
    )
    add(
        CostItem(
            key="s3_puts",
            service="S3",
            description="PUT requests of the state sync",
            quantity=task_hours * p.s3_puts_per_task_hour,
            unit="request",
            unit_usd=prices.s3_per_thousand_put / 1000,
        )
    )
    add(
        CostItem(
            key="s3_gets",
            service="S3",
            description="GET requests of the restore at each task start",
            quantity=starts * p.s3_gets_per_start,
            unit="request",
            unit_usd=prices.s3_per_thousand_get / 1000,
        )
    )
    return items


def _cloudwatch(m: _Month) -> list[CostItem]:
    """Log ingestion and storage, custom metrics, alarms."""
    p = m.p
    prices = m.prices
    free_tier = m.free_tier
    free = m.free
    items: list[CostItem] = []
    add = items.append
    logs_free = free.logs_gb if free_tier else 0.0
    ingest_free = min(p.logs_gb_per_month, logs_free)
    add(
        CostItem(
            key="logs_ingestion",
            service="CloudWatch",
            description="log ingestion (Lambdas, agent, API access logs)",
            quantity=p.logs_gb_per_month,
            unit="GB",
            unit_usd=prices.logs_gb_ingested,
            free_quantity=ingest_free,
        )
    )
    add(
        CostItem(
            key="logs_storage",
            service="CloudWatch",
            description="log storage (retention keeps it to about a month)",
            quantity=p.logs_gb_per_month,
            unit="GB-month",
            unit_usd=prices.logs_gb_month,
            free_quantity=min(p.logs_gb_per_month, logs_free - ingest_free),
        )
    )
    add(
        CostItem(
            key="custom_metrics",
            service="CloudWatch",
            description="custom metrics published every month",
            quantity=p.custom_metrics,
            unit="metric-month",
            unit_usd=prices.custom_metric_month,
            free_quantity=min(p.custom_metrics, free.custom_metrics) if free_tier else 0,
        )
    )
    add(
        CostItem(
            key="alarms",
            service="CloudWatch",
            description="alarms (inbox dead-letter queue; failed tasks alert through EventBridge)",
            quantity=p.alarms,
            unit="alarm-month",
            unit_usd=prices.alarm_month,
            free_quantity=min(p.alarms, free.alarms) if free_tier else 0,
        )
    )
    return items


def _image_users_web(m: _Month) -> list[CostItem]:
    """The image in ECR, Cognito users, the web app on CloudFront."""
    p = m.p
    prices = m.prices
    free_tier = m.free_tier
    free = m.free
    items: list[CostItem] = []
    add = items.append
    add(
        CostItem(
            key="ecr_storage",
            service="ECR",
            description="agent image storage",
            quantity=p.ecr_image_gb,
            unit="GB-month",
            unit_usd=prices.ecr_gb_month,
        )
    )
    add(
        CostItem(
            key="cognito",
            service="Cognito",
            description=f"monthly active users beyond the first {prices.cognito_free_mau:,}",
            quantity=p.users,
            unit="MAU",
            unit_usd=prices.cognito_lite_mau,
            free_quantity=min(p.users, prices.cognito_free_mau),
        )
    )
    loads = p.users * p.web_page_loads_per_day * p.days_per_month
    web_gb = loads * p.web_page_mb / MB_PER_GB
    web_requests = loads * p.web_requests_per_load
    add(
        CostItem(
            key="cloudfront_data",
            service="CloudFront",
            description="web app data transfer out",
            quantity=web_gb,
            unit="GB",
            unit_usd=prices.cloudfront_gb,
            free_quantity=min(web_gb, free.cloudfront_gb) if free_tier else 0.0,
        )
    )
    add(
        CostItem(
            key="cloudfront_requests",
            service="CloudFront",
            description="web app HTTPS requests",
            quantity=web_requests,
            unit="request",
            unit_usd=prices.cloudfront_per_10k_requests / 10_000,
            free_quantity=min(web_requests, free.cloudfront_requests) if free_tier else 0.0,
        )
    )
    return items


SERVICES: Final = (
    _compute,
    _lambdas,
    _api_gateway,
    _dynamodb,
    _sqs,
    _s3,
    _cloudwatch,
    _image_users_web,
)
"""One function per service; each returns its items."""


def estimate(
    profile: UsageProfile, prices: PriceTable = US_EAST_1, *, free_tier: bool = False
) -> CostEstimate:
    """Itemised monthly cost of `profile`. Pure arithmetic: every item is quantity x price."""
    month = _Month(profile, prices, free_tier)
    return CostEstimate(
        profile=profile,
        prices=prices,
        free_tier=free_tier,
        items=tuple(item for service in SERVICES for item in service(month)),
        llm=_llm(month),
    )


def _llm(m: _Month) -> LlmEstimate:
    """Tokens the model provider bills (not AWS: reported apart from the total)."""
    p = m.p
    input_tokens = m.messages * p.llm_input_tokens_per_message
    output_tokens = m.messages * p.llm_output_tokens_per_message
    usd: float | None = None
    if p.llm_input_usd_per_mtok is not None and p.llm_output_usd_per_mtok is not None:
        usd = (
            input_tokens * p.llm_input_usd_per_mtok + output_tokens * p.llm_output_usd_per_mtok
        ) / MILLION
    return LlmEstimate(input_tokens=input_tokens, output_tokens=output_tokens, usd=usd)


# --- what the heartbeat setting costs --------------------------------------------------------
HEARTBEAT_EVERY_MINUTES: Final = 30.0
"""OpenClaw's default heartbeat cadence."""
ACTIVE_HOURS_PER_DAY: Final = 14.0
"""The default active-hours window (08:00-22:00)."""
WAKE_OVERHEAD_MINUTES: Final = 2.5
"""Cold start (~1 min on Fargate, measured locally ~0.5 min) plus the heartbeat turn itself."""


def with_heartbeat(
    profile: UsageProfile,
    policy: str,
    *,
    idle_timeout_minutes: float = 15.0,
    every_minutes: float = HEARTBEAT_EVERY_MINUTES,
) -> UsageProfile:
    """The profile with the task time a heartbeat policy adds.

    A heartbeat that wakes a sleeping agent keeps it up for the wake overhead plus the idle
    timeout; with OpenClaw's 30-minute cadence and a 15-minute idle timeout that is more than
    half of every hour of the window. Chat hours overlap with it, so the task runs
    max(chat hours, window x up-fraction) a day.
    """
    if policy == "off":
        return profile
    window = 24.0 if policy == "openclaw" else ACTIVE_HOURS_PER_DAY
    up_fraction = min(1.0, (WAKE_OVERHEAD_MINUTES + idle_timeout_minutes) / every_minutes)
    heartbeat_hours = window * up_fraction
    wakes = 0.0 if up_fraction >= 1 else window * 60 / every_minutes
    return profile.model_copy(
        update={
            "hours_per_day": min(24.0, max(profile.hours_per_day, heartbeat_hours)),
            "task_starts_per_day": profile.task_starts_per_day + wakes,
        }
    )
