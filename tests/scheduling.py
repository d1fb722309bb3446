"""How pytest-xdist shares the suite's files between its workers (tests/conftest.py).

By file (`--dist loadfile`), except for the packages listed here, which go to one worker as a
whole. The fault suite is one: its tests share one stack per worker (tests/faults/conftest.py,
package scope), and most of their time is spent waiting on what they break (a drain bound, a
redelivery, a stalled stream), ~0.6 of a core. Split across both workers, it started its
stack twice and its waits met each other: a third of both cores idle for its first ~6 minutes
(vmstat beside a timelined run, 2026-12-03). On one worker it starts one stack, and the other
worker runs the CPU-bound files beside it.
"""

from __future__ import annotations

from xdist.scheduler import LoadFileScheduling

WHOLE_PACKAGES = ("tests/faults/",)
"""Packages whose files run on one worker, in their collected order."""


class FilesAndWholePackages(LoadFileScheduling):
    """`--dist loadfile`, with each of `WHOLE_PACKAGES` as one unit of work."""

    def _split_scope(self, nodeid: str) -> str:
        whole = [package for package in WHOLE_PACKAGES if nodeid.startswith(package)]
        return whole[0] if whole else super()._split_scope(nodeid)
