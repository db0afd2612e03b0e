"""Serve the demo employment-services REST API on all interfaces (for docker compose).

``hrss-hub demo serve`` binds 127.0.0.1 (a laptop default); in compose the Airflow workers
reach the API over the compose network, so it must listen on 0.0.0.0.

    python docker/demo_api.py WORKSPACE [PORT]
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path


def main(workspace: str, port: int = 8765) -> int:
    """Serve until SIGTERM/SIGINT (``docker compose down``)."""
    from hrss_hub.demo.server import DemoServer

    server = DemoServer(Path(workspace), port=port, host="0.0.0.0").start()
    print(f"demo employment API on port {server.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 8765))
