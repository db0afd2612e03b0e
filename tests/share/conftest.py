"""Fixtures of the sharing tests."""

from __future__ import annotations

import sys
from pathlib import Path

# the tests import their helper module by name (pytest runs with importlib mode)
sys.path.insert(0, str(Path(__file__).parent))
