"""Run one Airflow task body (:mod:`hrss_hub.airflow.tasks`) in this process; print its
result as one ``RESULT {json}`` line.

What a Celery worker does for one task instance, without Airflow: a fresh interpreter
per task, nothing shared with the other tasks but files and the ledger.

    python tests/airflow/task_body.py FUNCTION '{"kwarg": ...}'
"""

from __future__ import annotations

import json
import sys


def main(function: str, kwargs: str) -> int:
    """Call ``hrss_hub.airflow.tasks.<function>(**kwargs)`` and print the result."""
    from hrss_hub.airflow import tasks

    result = getattr(tasks, function)(**json.loads(kwargs))
    print("RESULT " + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
