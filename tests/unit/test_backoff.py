import random

from serverless_openclaw.core.backoff import Backoff


def test_delays_grow_to_the_cap_and_reset_after_success() -> None:
    backoff = Backoff(base=1, cap=8, jitter=False)
    assert [backoff.next() for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    backoff.reset()
    assert backoff.next() == 1


def test_jitter_stays_within_half_to_full_delay() -> None:
    backoff = Backoff(base=2, cap=30, rng=random.Random(7))
    for attempt in range(8):
        ceiling = min(30, 2 * 2**attempt)
        assert ceiling / 2 <= backoff.next() <= ceiling


def test_zero_base_means_no_waiting_in_tests() -> None:
    backoff = Backoff(base=0)
    assert [backoff.next() for _ in range(3)] == [0, 0, 0]
