"""Whose advice proved right? Simulated friends voting on a shopper's looks (docs/interface.md § Benchmarks)

    python bench/social.py            # 400 shoppers x 30 visits
    python bench/social.py --quick    # 80 shoppers

The simulated world (SPEC §16): each shopper has three remembered friends who agree with the
shopper's final choice (bought: up; not bought: down) with probability 0.9 (reliable), 0.5
(random) and 0.2 (contrarian), each vote drawn independently of the others. Each visit the
shopper tries 3 items and buys each with probability 0.4. The box weighs the votes with the
shipped code (`edge_agent.social.trust`: Beta(3, 2) prior, ×0.9 decay per visit, weight
clip(log-odds, 0, 2)) and settles each friend's trust after the visit, as the agent does.

Purchase prediction (an item is predicted bought when its advice A > 0) is scored over visits
11-30, after ten visits to learn, for three weightings of the same votes: the learned weights,
an unweighted tally (what the social mirrors before did: up minus down), and oracle weights
(each friend's true log-odds, contrarians read backwards: the best any weighting can do).
The weights reported are the medians over shoppers after the 30th visit.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_agent.social.trust import Trust, advice, agrees

AGREE = {"reliable": 0.9, "random": 0.5, "contrarian": 0.2}
VISITS = 30
LEARN_VISITS = 10
ITEMS = 3
BUY_P = 0.4


def run(shoppers: int, seed: int) -> dict[str, float | int | bool]:
    rng = random.Random(seed)
    oracle = {name: math.log(p / (1 - p)) for name, p in AGREE.items()}
    hits = {"weighted": 0, "tally": 0, "oracle": 0}
    scored = 0
    final: dict[str, list[float]] = {name: [] for name in AGREE}
    for _ in range(shoppers):
        trust = {name: Trust() for name in AGREE}
        for visit in range(VISITS):
            agreements: dict[str, list[bool]] = {name: [] for name in AGREE}
            for _item in range(ITEMS):
                bought = rng.random() < BUY_P
                outcome = 1 if bought else -1
                votes = {}
                for name, p in AGREE.items():
                    agree = rng.random() < p
                    votes[name] = "up" if (bought == agree) else "down"
                    verdict = agrees(votes[name], outcome)
                    assert verdict is not None
                    agreements[name].append(verdict)
                if visit >= LEARN_VISITS:
                    scored += 1
                    weighted = advice((trust[n].weight, v) for n, v in votes.items())
                    tally = sum(1 if v == "up" else -1 for v in votes.values())
                    best = sum(oracle[n] * (1 if v == "up" else -1) for n, v in votes.items())
                    hits["weighted"] += (weighted > 0) == bought
                    hits["tally"] += (tally > 0) == bought
                    hits["oracle"] += (best > 0) == bought
            trust = {name: trust[name].settled(agreements[name]) for name in AGREE}
        for name in AGREE:
            final[name].append(trust[name].weight)
    result: dict[str, float | int | bool] = {
        "shoppers": shoppers,
        "visits": VISITS,
        "weight_reliable": round(statistics.median(final["reliable"]), 3),
        "weight_random": round(statistics.median(final["random"]), 3),
        "weight_contrarian": round(statistics.median(final["contrarian"]), 3),
        "weight_random_mean": round(statistics.fmean(final["random"]), 3),
        "accuracy_weighted": round(hits["weighted"] / scored, 4),
        "accuracy_tally": round(hits["tally"] / scored, 4),
        "accuracy_oracle_weights": round(hits["oracle"] / scored, 4),
    }
    result["goals_met"] = (
        result["weight_reliable"] > result["weight_random"] > result["weight_contrarian"] - 1e-12
        and result["weight_random"] <= 0.1
        and result["weight_contrarian"] == 0
        and result["accuracy_weighted"] >= 0.95 * result["accuracy_oracle_weights"]
        and result["accuracy_weighted"] > result["accuracy_tally"]
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer shoppers (the suite runs this)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(run(80 if args.quick else 400, args.seed)))


if __name__ == "__main__":
    main()
