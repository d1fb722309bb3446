"""Benchmarks of serverless-openclaw on the local stack: `python -m bench SUITE [--json]`.

Suites (each figure median and p95 over repeated runs, measured side by side in one run):
relay, coldstart, handlers, memory, load, image, all. Results and how to read them:
docs/performance.md. Nothing here depends on pytest; tests/unit/test_bench_smoke.py checks
the CLI and the statistics only.
"""
