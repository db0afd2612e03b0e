"""The real-topology test: its process helpers (``deploy_topology.py``) and the run tests'
world helpers (``tests/run/run_world.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "run"))
sys.path.insert(0, str(Path(__file__).parent))
