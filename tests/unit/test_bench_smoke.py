"""The benchmark CLI parses what docs/performance.md tells people to type, and its
statistics are right. No benchmark runs here: the slow suites live in bench/ only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import SUITES, options_from, parser
from bench.load import LoadResult, Sent, figures_of
from bench.report import TARGETS, as_json, table
from bench.stats import Figure, median, percentile, rate, ratio


# --- statistics -------------------------------------------------------------------------------
def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    values = [15, 20, 35, 40, 50]
    assert percentile(values, 0) == 15
    assert percentile(values, 100) == 50
    assert percentile(values, 50) == 35
    assert percentile(values, 40) == pytest.approx(29.0)  # numpy.percentile(values, 40)
    assert percentile(values, 95) == pytest.approx(48.0)


def test_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    assert median([4, 1, 3, 2]) == 2.5
    assert median([7]) == 7


def test_percentile_ignores_input_order_and_refuses_nonsense() -> None:
    assert percentile([3, 1, 2], 50) == percentile([1, 2, 3], 50) == 2
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_p95_of_a_long_tail_shows_the_tail_and_the_median_does_not() -> None:
    values = [100.0] * 19 + [1000.0]
    figure = Figure.of(values)
    assert figure.median == 100
    assert figure.p95 == pytest.approx(145.0)  # 100 + 0.05 * 900
    assert figure.n == 20


def test_ratio_divides_medians_and_p95s() -> None:
    relay = Figure.of([110, 120, 130])
    direct = Figure.of([100, 100, 100])
    r = ratio(relay, direct)
    assert r.median == pytest.approx(1.2)
    assert r.p95 == pytest.approx(relay.p95 / 100)
    assert r.unit == "x"
    with pytest.raises(ValueError):
        ratio(relay, Figure.of([0.0]))


def test_headline_picks_the_statistic_the_name_promises() -> None:
    acks = Figure.of([10, 20, 30, 40, 1000], headline="p95")
    assert acks.value == acks.p95
    assert Figure.of([1, 2, 3]).value == 2
    assert rate(30, 10.0) == 3 and rate(5, 0) == 0


# --- the CLI ------------------------------------------------------------------------------
def test_every_suite_of_the_issue_is_accepted_and_json_is_a_flag() -> None:
    assert set(SUITES) == {"relay", "coldstart", "handlers", "memory", "load", "image", "all"}
    for suite in SUITES:
        args = parser().parse_args([suite, "--json"])
        assert args.suite == suite and args.json is True
    assert parser().parse_args(["relay"]).json is False


def test_unknown_suite_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args(["speed"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_run_counts_can_be_changed_from_the_command_line() -> None:
    args = parser().parse_args(
        ["load", "--load-users", "7", "--load-seconds", "12.5", "--relay-pairs", "3", "--keep"]
    )
    options = options_from(args)
    assert options.load_users == 7
    assert options.load_seconds == 12.5
    assert options.relay_pairs == 3
    assert options.keep is True
    defaults = options_from(parser().parse_args(["all"]))
    assert defaults.load_users == 50 and defaults.load_real_users == 3
    pinned = options_from(parser().parse_args(["coldstart", "--task-cpus", "0"]))
    assert pinned.task_cpus == "0" and defaults.task_cpus == ""
    assert defaults.open_send_delay_s == 15.0


# --- results --------------------------------------------------------------------------------
def _figures() -> dict[str, Figure]:
    return {
        "relay_ttft_ms": Figure.of([500, 520, 540]),
        "relay_overhead_ratio": Figure(median=1.2, p95=1.3, n=20, unit="x"),
        "load_lost": Figure.single(0, "msgs"),
        "bridge_rss_mb": Figure.of([70, 72, 75], "MB"),
    }


def test_json_is_one_object_with_every_figure_by_name_and_the_verdicts() -> None:
    data = json.loads(json.dumps(as_json(_figures(), {"suite": "relay"})))
    assert data["relay_ttft_ms"] == {
        "value": 520.0,
        "median": 520.0,
        "p95": 538.0,
        "n": 3,
        "unit": "ms",
    }
    assert data["targets"]["relay_overhead_ratio"]["met"] is False
    assert data["targets"]["load_lost"]["met"] is True
    assert data["targets"]["bridge_rss_mb"]["met"] is True
    assert data["meta"] == {"suite": "relay"}
    assert {t.figure for t in TARGETS} >= {
        "relay_overhead_ratio",
        "coldstart_vs_bare_ratio",
        "open_then_send_first_text_ms",
        "image_content_mb",
        "handler_import_ratio",
        "bridge_rss_mb",
        "load_lost",
    }


def test_table_names_each_figure_and_flags_a_missed_target() -> None:
    text = table(_figures(), {"machine": {"cpus": 2}, "duration_s": 1.0})
    assert "relay_ttft_ms" in text and "520" in text
    assert "MISSED" in text  # the ratio of 1.2 against <= 1.15


def test_load_figures_count_acks_per_window_and_flag_lost_messages() -> None:
    result = LoadResult(started=100.0, stopped=120.0)
    for n in range(30):  # 20 acked in the first 10 s window, 10 in the second
        sent = 100.0 + (n * 0.5 if n < 20 else 10 + (n - 20))
        record = Sent(f"m{n}", user=None, ws=None, sent=sent)  # type: ignore[arg-type]
        record.ack = sent + 0.05
        record.end = sent + 0.3
        result.records.append(record)
    counts = {"lost": 1, "duplicated": 0}
    figures = figures_of(result, counts, "load", 10.0)
    assert figures["load_msgs_per_s"].samples == (2.0, 1.0)
    assert figures["load_ack_p95_ms"].value == pytest.approx(50.0)
    assert figures["load_lost"].value == 1


def test_image_sizes_count_file_bytes_and_a_gzipped_tar_of_them(tmp_path: Path) -> None:
    from bench.image import content_bytes, gzipped_bytes

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "zeros").write_bytes(b"\0" * 200_000)
    (tmp_path / "a" / "noise").write_bytes(bytes(range(256)) * 40)
    assert content_bytes(tmp_path / "a") == 200_000 + 10_240
    packed = gzipped_bytes(tmp_path / "a")
    assert 0 < packed < 20_000, "zeros compress; the figure is the compressed stream"
