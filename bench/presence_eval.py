"""Presence evaluation: a simulated day of visitors and passers-by through the presence engine.

    python bench/presence_eval.py [--quick] [--seed N]

The radio model is documented in `edge_agent/testing/storeworld.py` and the README
("Presence"). Prints one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import json

from edge_agent.sim.storeworld import evaluate

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds instead of up to a minute")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    result = evaluate(60, 20, 100, 20, args.seed) if args.quick else evaluate(500, 50, 500, 50, args.seed)
    print(json.dumps(result))
