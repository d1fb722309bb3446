"""The shared httpx pool of the Bot API clients and the local @connections client: its
sockets are closed by `close()`, or by the garbage collector when an owner forgets (pytest
turns the `ResourceWarning` of a socket left open into a failure of whichever test runs next)."""

from __future__ import annotations

import gc

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from harness import SharedServers
from serverless_openclaw.adapters.http_pool import HttpPool


async def _hello(_: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def test_a_dropped_pool_closes_its_sockets_and_a_closed_one_opens_again(
    shared_servers: SharedServers,
) -> None:
    with shared_servers.mount("pool", Starlette(routes=[Route("/", _hello)])) as server:
        forgotten = HttpPool(timeout=5)
        client = forgotten.client()
        assert client.get(f"{server.url}/").text == "hello"  # a kept-alive connection
        del forgotten
        gc.collect()
        assert client.is_closed

        pool = HttpPool(timeout=5)
        first = pool.client()
        assert pool.client() is first  # one pool for every caller
        pool.close()
        assert first.is_closed
        assert pool.client().get(f"{server.url}/").text == "hello"
        pool.close()
