"""The one price table the cost model uses: AWS list prices for us-east-1, in USD.

Prices move (Fargate Spot floats from hour to hour), so every figure lives here, once, with
the date it was read and where it came from; `docs/cost.md` repeats the table. To re-price,
change this module and the worked-example test tells you whether the model still adds up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, kw_only=True)
class FreeTier:
    """AWS's always-free monthly allowances (not the 12-month trial tier).

    They apply per account, so the estimate ignores them unless asked: another workload in the
    same account may already use them up.
    """

    lambda_requests: float = 1_000_000
    lambda_gb_seconds: float = 400_000
    sqs_requests: float = 1_000_000
    logs_gb: float = 5.0
    """Ingestion and storage together."""
    custom_metrics: int = 10
    alarms: int = 10
    dynamodb_storage_gb: float = 25.0
    cloudfront_gb: float = 1024.0
    cloudfront_requests: float = 10_000_000


@dataclass(frozen=True, kw_only=True)
class PriceTable:
    region: str
    as_of: str
    source: str

    fargate_vcpu_hour: float
    fargate_gb_hour: float
    fargate_spot_vcpu_hour: float
    fargate_spot_gb_hour: float
    fargate_ephemeral_gb_hour: float
    """Beyond the 20 GB every task gets."""
    public_ipv4_hour: float
    nat_gateway_hour: float
    nat_gateway_gb: float

    websocket_per_million_messages: float
    """Metered in 32 KB units."""
    websocket_per_million_connection_minutes: float
    http_api_per_million_requests: float

    lambda_arm_gb_second: float
    lambda_per_million_requests: float

    dynamodb_per_million_wru: float
    dynamodb_per_million_rru: float
    dynamodb_gb_month: float
    dynamodb_pitr_gb_month: float
    """Continuous backups (point-in-time recovery), per GB of table data; not in the shared
    snapshot (DynamoDB pricing page)."""

    sqs_standard_per_million: float
    sqs_fifo_per_million: float

    s3_gb_month: float
    s3_per_thousand_put: float
    s3_per_thousand_get: float

    logs_gb_ingested: float
    logs_gb_month: float
    custom_metric_month: float
    alarm_month: float
    """Standard-resolution alarm; not in the shared price snapshot (CloudWatch pricing page)."""

    ecr_gb_month: float
    cognito_lite_mau: float
    cognito_free_mau: int
    """Part of the price, not a free tier: the first 10,000 monthly active users cost nothing."""
    cloudfront_gb: float
    cloudfront_per_10k_requests: float
    eventbridge_scheduled_invocation: float

    free_tier: FreeTier = FreeTier()


US_EAST_1: Final = PriceTable(
    region="us-east-1",
    as_of="2026-09-28",
    source=(
        "AWS price list for us-east-1 as quoted by dated public sources (Aug-Oct 2026); "
        "Fargate Spot ARM snapshot of 2026-09-28; CloudWatch alarm and DynamoDB "
        "point-in-time recovery from the services' pricing pages. See docs/cost.md."
    ),
    fargate_vcpu_hour=0.03238,
    fargate_gb_hour=0.00356,
    fargate_spot_vcpu_hour=0.01030969,
    fargate_spot_gb_hour=0.00113349,
    fargate_ephemeral_gb_hour=0.000111,
    public_ipv4_hour=0.005,
    nat_gateway_hour=0.045,
    nat_gateway_gb=0.045,
    websocket_per_million_messages=1.00,
    websocket_per_million_connection_minutes=0.25,
    http_api_per_million_requests=1.00,
    lambda_arm_gb_second=0.0000133334,
    lambda_per_million_requests=0.20,
    dynamodb_per_million_wru=0.625,
    dynamodb_per_million_rru=0.125,
    dynamodb_gb_month=0.25,
    dynamodb_pitr_gb_month=0.20,
    sqs_standard_per_million=0.40,
    sqs_fifo_per_million=0.50,
    s3_gb_month=0.023,
    s3_per_thousand_put=0.005,
    s3_per_thousand_get=0.0004,
    logs_gb_ingested=0.50,
    logs_gb_month=0.03,
    custom_metric_month=0.30,
    alarm_month=0.10,
    ecr_gb_month=0.10,
    cognito_lite_mau=0.0055,
    cognito_free_mau=10_000,
    cloudfront_gb=0.085,
    cloudfront_per_10k_requests=0.01,
    eventbridge_scheduled_invocation=0.0,
)
"""The table every estimate uses unless another is passed in."""

PRICE_TABLES: Final[dict[str, PriceTable]] = {US_EAST_1.region: US_EAST_1}
