"""The cost model against a hand calculation: the worked example of the shared price notes.

One user; ARM64 1 vCPU / 2 GB on Fargate Spot with a public IPv4; 50 messages a day for 30
days, each streamed as ~30 WebSocket messages; a Lambda per message (256 MB, 200 ms); a
watchdog every minute (128 MB, 300 ms); 20 DynamoDB writes and 40 strongly consistent reads
per message; 50 MB of S3 state with 20 PUTs per active hour; 100 MB of logs; no free tiers.
Expected totals: 0.71 / 1.24 / 4.43 for 1 / 2 / 8 hours a day, and 36.61 / 36.99 / 39.27 with
a NAT gateway instead of task public IPs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from serverless_openclaw.core.cost import UsageProfile, estimate

# The example leaves out what it does not mention; these fields switch those items off.
# Its DynamoDB figure (0.0513) is 0.02625 of requests plus 0.1 GB of table storage (0.025).
WORKED_EXAMPLE = {
    "users": 1,
    "messages_per_day": 50,
    "days_per_month": 30,
    "ws_frames_per_message": 30,
    "ws_frames_in_per_message": 1,
    "connected_minutes_per_day": 60,
    "lambda_memory_mb": 256,
    "lambda_ms": 200,
    "watchdog_memory_mb": 128,
    "watchdog_ms": 300,
    "dynamodb_writes_per_message": 20,
    "dynamodb_reads_per_message": 40,
    "dynamodb_storage_gb": 0.1,
    "s3_state_gb": 0.05,
    "s3_puts_per_task_hour": 20,
    "logs_gb_per_month": 0.1,
    # not in the example
    "dynamodb_pitr": False,
    "http_requests_per_day": 0,
    "sqs_requests_per_message": 0,
    "sqs_polls_per_task_minute": 0,
    "s3_changed_gb_per_task_hour": 0,
    "s3_gets_per_start": 0,
    "alarms": 0,
    "ecr_image_gb": 0,
    "web_page_loads_per_day": 0,
}

# Hand calculation, with the prices of the table in AWS-PRICES.md.
PER_TASK_HOUR = (0.01030969 + 2 * 0.00113349) + 0.005 + 20 * 0.005 / 1000  # Spot + IPv4 + PUTs
LAMBDA = (
    43_200 * 0.20 / 1e6  # watchdog requests (every minute of 30 days)
    + 43_200 * 0.125 * 0.3 * 0.0000133334  # watchdog GB-seconds
    + 1_500 * 0.20 / 1e6  # a handler per message
    + 1_500 * 0.25 * 0.2 * 0.0000133334
)
DYNAMODB = 1_500 * 20 * 0.625 / 1e6 + 1_500 * 40 * 0.125 / 1e6 + 0.1 * 0.25
WEBSOCKET = 1_500 * 31 * 1.00 / 1e6 + 30 * 60 * 0.25 / 1e6
LOGS = 0.1 * 0.50 + 0.1 * 0.03
S3_STORAGE = 0.05 * 0.023
FIXED = LAMBDA + DYNAMODB + WEBSOCKET + LOGS + S3_STORAGE


def example(hours: float, **changes: object) -> UsageProfile:
    return UsageProfile(**{**WORKED_EXAMPLE, "hours_per_day": hours, **changes})


def test_hand_calculation_matches_the_figures_of_the_price_notes() -> None:
    # Guards the constants above against typos: they must give the notes' own figures.
    assert round(PER_TASK_HOUR - 0.005 - 0.0001, 6) == 0.012577
    assert round(LAMBDA, 4) == 0.0315
    assert round(DYNAMODB, 4) == 0.0513
    assert abs(WEBSOCKET - 0.047) <= 0.0006
    assert round(LOGS, 3) == 0.053
    assert abs(S3_STORAGE - 0.0012) <= 0.00005


@pytest.mark.parametrize(("hours", "total"), [(1, 0.71), (2, 1.24), (8, 4.43)])
def test_worked_example_totals(hours: float, total: float) -> None:
    result = estimate(example(hours))
    assert round(result.total_usd_per_month, 2) == total
    assert result.total_usd_per_month == pytest.approx(30 * hours * PER_TASK_HOUR + FIXED)


def test_worked_example_items() -> None:
    result = estimate(example(2))
    services = result.by_service()
    assert services["Lambda"] == pytest.approx(LAMBDA)
    assert services["DynamoDB"] == pytest.approx(DYNAMODB)
    websocket = result.item("websocket_messages").usd + result.item("websocket_minutes").usd
    assert websocket == pytest.approx(WEBSOCKET)
    logs = result.item("logs_ingestion").usd + result.item("logs_storage").usd
    assert logs == pytest.approx(LOGS)
    assert result.item("s3_storage").usd == pytest.approx(S3_STORAGE)
    fargate = result.item("fargate_vcpu").usd + result.item("fargate_memory").usd
    assert fargate == pytest.approx(60 * 0.012577, rel=1e-4)
    assert result.item("public_ipv4").usd == pytest.approx(60 * 0.005)


@pytest.mark.parametrize(("hours", "total"), [(1, 36.61), (2, 36.99), (8, 39.27)])
def test_nat_gateway_comparison(hours: float, total: float) -> None:
    result = estimate(example(hours, public_ipv4=False, nat_gateways=1, nat_gb_per_month=1.0))
    assert round(result.total_usd_per_month, 2) == total


def test_cli_prints_the_same_figures_as_json(tmp_path: Path) -> None:
    profile = tmp_path / "example.json"
    profile.write_text(json.dumps(WORKED_EXAMPLE))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "serverless_openclaw",
            "cost",
            "--profile",
            str(profile),
            "--hours-per-day",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    data = json.loads(out)
    assert round(data["total_usd_per_month"], 2) == 1.24
    assert data["free_tier"] is False
    assert data["profile"]["hours_per_day"] == 2
    items = {item["key"]: item for item in data["items"]}
    assert items["public_ipv4"]["quantity"] == 60
    assert items["fargate_vcpu"]["unit"] == "vCPU-hour"
    assert sum(item["usd"] for item in data["items"]) == pytest.approx(data["total_usd_per_month"])
    assert data["llm"]["included_in_total"] is False


def test_cli_table_shows_total_and_llm_apart() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "serverless_openclaw", "cost", "--hours-per-day", "1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"},
    ).stdout
    assert "total_usd_per_month" in out
    assert "LLM tokens" in out
    assert "Fargate Spot ARM64 vCPU" in out


def test_cli_rejects_an_impossible_profile() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "serverless_openclaw", "cost", "--hours-per-day", "25"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode != 0
    assert "hours_per_day" in result.stderr


def test_full_default_profile_adds_what_the_example_leaves_out() -> None:
    base = estimate(example(2)).total_usd_per_month
    full = estimate(UsageProfile(hours_per_day=2))
    extras = (
        1 * 0.10  # one alarm (dead letters)
        + 0.1 * 0.20  # point-in-time recovery of 0.1 GB
        + 0.5 * 0.10  # image in ECR
        + (1_500 * 3 + 60 * 60 * 3) * 0.50 / 1e6  # FIFO requests + empty long polls
        + 30 * 20 * 1.00 / 1e6  # HTTP API
        + 2 * 0.005 * 3 * 0.023  # noncurrent versions kept 3 days
        + 60 * 50 * 0.0004 / 1000  # restore GETs, 2 starts a day
        + 150 / 1024 * 0.085
        + 1_500 * 0.01 / 10_000  # CloudFront
        + 43_200 * 0.125 * 0.3 * 0.0000133334  # the watchdog has 256 MB, the example 128
    )
    assert full.total_usd_per_month == pytest.approx(base + extras)


def test_free_tier_removes_what_it_covers() -> None:
    paid = estimate(UsageProfile(hours_per_day=2))
    free = estimate(UsageProfile(hours_per_day=2), free_tier=True)
    assert free.by_service()["Lambda"] == 0
    assert free.item("alarms").usd == 0
    assert free.item("logs_ingestion").usd == 0
    # Fargate, IPv4 and ECR have no always-free tier.
    assert free.item("public_ipv4").usd == paid.item("public_ipv4").usd
    assert free.item("fargate_vcpu").usd == paid.item("fargate_vcpu").usd
    assert free.total_usd_per_month < paid.total_usd_per_month


def test_idle_month_costs_cents() -> None:
    idle = estimate(
        UsageProfile(
            hours_per_day=0,
            messages_per_day=0,
            task_starts_per_day=0,
            web_page_loads_per_day=0,
            http_requests_per_day=0,
            connected_minutes_per_day=0,
            logs_gb_per_month=0.02,
        )
    )
    assert idle.item("fargate_vcpu").usd == 0
    assert idle.item("public_ipv4").usd == 0
    beyond_image = idle.total_usd_per_month - idle.item("ecr_storage").usd
    # Watchdog Lambda + the alarm + table storage and backups + logs: about 0.21 without
    # free tiers (the alarm alone is 0.10).
    assert 0.1 < beyond_image < 0.22
    with_free_tier = estimate(idle.profile, free_tier=True)
    # Left: table backups (0.02, no free tier) and S3 state.
    assert with_free_tier.total_usd_per_month - with_free_tier.item("ecr_storage").usd < 0.025


def test_llm_tokens_are_priced_apart_only_when_prices_are_given() -> None:
    unpriced = estimate(UsageProfile())
    assert unpriced.llm.usd is None
    assert unpriced.llm.input_tokens == 50 * 30 * 8000
    priced = estimate(UsageProfile(llm_input_usd_per_mtok=3.0, llm_output_usd_per_mtok=15.0))
    assert priced.llm.usd == pytest.approx((12_000_000 * 3 + 750_000 * 15) / 1e6)
    assert priced.total_usd_per_month == unpriced.total_usd_per_month


def test_users_multiply_per_user_items_but_not_shared_ones() -> None:
    one = estimate(UsageProfile(users=1))
    three = estimate(UsageProfile(users=3))
    assert three.item("fargate_vcpu").usd == pytest.approx(3 * one.item("fargate_vcpu").usd)
    assert three.item("alarms").usd == one.item("alarms").usd
    assert three.item("ecr_storage").usd == one.item("ecr_storage").usd


def test_docs_show_the_figures_the_cli_prints() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "cost.md").read_text()
    row = next(line for line in docs.splitlines() if "Total, no free tiers**" in line)
    free_row = next(line for line in docs.splitlines() if "Total with `--free-tier`" in line)
    for hours, shown, shown_free in zip(
        (1, 2, 8), row.split("|")[2:5], free_row.split("|")[2:5], strict=True
    ):
        profile = UsageProfile(hours_per_day=hours)
        assert f"{estimate(profile).total_usd_per_month:.2f}" == shown.strip(" *")
        assert f"{estimate(profile, free_tier=True).total_usd_per_month:.2f}" == shown_free.strip()


def test_heartbeat_policy_costs_what_its_wake_ups_keep_running() -> None:
    from serverless_openclaw.core.cost import estimate, with_heartbeat

    base = UsageProfile(hours_per_day=2)
    off = estimate(with_heartbeat(base, "off")).total_usd_per_month
    active = with_heartbeat(base, "active-hours", idle_timeout_minutes=15)
    always = with_heartbeat(base, "openclaw", idle_timeout_minutes=15)
    # 30-minute cadence, 2.5 min wake + 15 min idle tail: 17.5/30 of every hour of the window.
    assert active.hours_per_day == pytest.approx(14 * 17.5 / 30)
    assert always.hours_per_day == pytest.approx(24 * 17.5 / 30)
    assert active.task_starts_per_day == base.task_starts_per_day + 14 * 2
    assert off < estimate(active).total_usd_per_month < estimate(always).total_usd_per_month
    # A short idle timeout makes each heartbeat cheaper; a 30-minute one keeps it always up.
    assert with_heartbeat(base, "openclaw", idle_timeout_minutes=1).hours_per_day < 24 * 0.2
    assert with_heartbeat(base, "openclaw", idle_timeout_minutes=30).hours_per_day == 24
