"""SIGKILL the agent at random moments while inputs arrive; count what reached the cloud.

    python bench/crash.py            # 60 kills
    python bench/crash.py --kills 200
    python bench/crash.py --quick    # 2 kills (the suite runs this; tests/test_crash.py kills 9 times)

Prints one JSON object as its last line: kills, published, counted, lost, double_counted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_agent.testing.crash import CrashPlan, run_crash


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="2 kills, a smaller load")
    args = parser.parse_args()
    kills = 2 if args.quick else args.kills
    plan = CrashPlan.spread(kills, args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="edge-agent-crash-") as tmp:
        report = run_crash(Path(tmp), plan, on_kill=lambda n: print(f"kill {n}/{kills}", file=sys.stderr, flush=True))
    figures = report.figures()
    figures["elapsed_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
