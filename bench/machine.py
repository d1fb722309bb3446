"""What the figures were measured on (they mean little without it)."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def machine() -> dict[str, Any]:
    """CPU, memory, Python, platform, the pinned OpenClaw and the load average now."""
    import platform

    import psutil

    from serverless_openclaw.core.pins import OPENCLAW_VERSION

    cpu_model = ""
    with contextlib.suppress(OSError):
        match = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu_model = match.group(1).strip() if match else ""
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "openclaw": OPENCLAW_VERSION,
        "load_average": [round(x, 2) for x in load_average()],
    }
