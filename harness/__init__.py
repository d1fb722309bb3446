"""The one harness of the tests (`tests/`) and the benchmarks (`bench/`): the local stack
in a child process (`stack.py`), a person using it (`people.py`), their browser's WebSocket
(`ws.py`), their agent task seen from outside (`agent.py`), the offline model
(`model.py`) and loopback servers shared by the tests of a worker (`servers.py`).

Not product code: it lives beside `src/` and never ships in the Lambda bundle or the image.
It uses only what a person or an operator on the same machine has: the public HTTP and
WebSocket APIs, the stack's sign-in endpoint, `dev.json`, and the backend's own store
opened beside the stack.
"""

from .agent import AgentProcess, process_start_wall
from .model import OfflineModel
from .people import Person
from .servers import SharedServers
from .stack import FAST_CLOCKS, DevStackProcess, free_port_pair, new_id
from .ws import Frame, WsClient

__all__ = [
    "FAST_CLOCKS",
    "AgentProcess",
    "DevStackProcess",
    "Frame",
    "OfflineModel",
    "Person",
    "SharedServers",
    "WsClient",
    "free_port_pair",
    "new_id",
    "process_start_wall",
]
