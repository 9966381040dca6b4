"""Eight simulated weeks of a store: does learning from the mirror and the till pay? (docs/interface.md § Benchmarks)

    python bench/learning.py            # two seeds, 8 weeks, 400 customers
    python bench/learning.py --quick    # one seed, fewer customers

The simulated world (fixed before the learner was tuned, and not changed to suit it):
- 6 categories, 2 offers each. Every customer has a hidden taste (a share per category, one
  dominant at ~55 %). The CRM import knew the dominant category months ago; since then, and
  each week with probability 0.12, a customer's dominant category moves to another one.
- Each customer visits about once a week (Poisson). At the door the agent decides (treatment:
  staff present the top-ranked offer; holdout, 10 % by a hash of the id: nothing is shown).
  Then the customer uses a fitting-room mirror: tries on 3 items drawn by their *true* taste,
  likes each with probability 0.25 + 0.7 x taste, dislikes items of categories they barely
  like (taste < 0.08) with probability 0.5; and buys one liked item with probability 0.3.
- In-visit stage: 40 % of visits reach the mirror before staff speak to the customer (the
  rest are approached at the door). For those, the agent's card has already seen the try-ons,
  likes and dislikes of this visit, and re-ranks its offers (offers that follow the moment).
- A presented offer is accepted with probability 0.9 x the customer's true taste for its
  category, and staff record Accepted or Dismiss on the tablet; an accepted offer makes the
  visit convert. Without an offer the visit converts
  with the baseline probability 0.10. The true uplift is known from these probabilities.

Five policies see the same visitors and the same random draws: `static` (the import only:
today's behaviour without learning), `learning` (this agent deciding at the door: affinities from mirror and till
events as a belief that is forgotten with `learning.half_life_days`, blended with the import,
disliked categories kept away, scored by the shipped ONNX model, which also sees each learned
affinity against the customer's strongest one), `refreshed` (the same agent, re-ranking with the
visit's mirror evidence when the customer reached the mirror first), `bayes` (a ceiling, not a product: a forward
filter told this simulator's own drift rate and signal probabilities; no learner that decides
at the door, before the visit's own evidence, can do better on average), and `oracle` (ranks by
the hidden truth, which it sees the moment a taste drifts). The uplift estimate is the agent's
own Newcombe interval over the learning policy's last four weeks.

Prints one JSON object as its last line with the keys of docs/interface.md § Benchmarks: the
first seed's figures, `learning_vs_bayes` as the mean over the seeds (five by default), and
every seed's figures under `seeds`.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_agent.core.events import Customer, Offer
from edge_agent.learning.profile import SIGNALS, Taste, blend
from edge_agent.learning.uplift import newcombe
from edge_agent.runtime.learned import keep_away
from edge_agent.scoring.catalog import OfferCatalog
from edge_agent.scoring.onnx import ModelScorer, shipped_manifest
from edge_agent.scoring.policy import in_holdout
from edge_agent.scoring.rules import Context
from edge_agent.store.offers import MemoryOffers
from edge_agent.store.profiles import MemoryProfiles

CATEGORIES = ("shoes", "bags", "outerwear", "accessories", "beauty", "kids")
OFFERS = [
    Offer(f"o-{c}-{i}", f"{c} offer {i}", c, "discount" if i == 0 else "service", value="10%" if i == 0 else "")
    for c in CATEGORIES
    for i in range(2)
]
CATALOG = OfferCatalog(MemoryOffers(OFFERS))  # the in-memory catalog: the same answers, no database
DAY = 86400.0
WEEK = 7 * DAY
HALF_LIFE_S = 30 * DAY
DRIFT_PER_WEEK = 0.12
ACCEPT = 0.9
BASELINE = 0.10
HOLDOUT_PCT = 10.0
IN_VISIT_SHARE = 0.4  # visits where the mirror comes before the staff's approach
SEEDS = (11, 23, 5, 7, 99)


@dataclass
class Person:
    customer_id: str
    imported: str
    dominant: str
    taste: dict[str, float] = field(default_factory=dict)

    def reshape(self, rng: random.Random) -> None:
        """A dominant category at ~55 %, the rest spread at random."""
        rest = [rng.random() for _ in CATEGORIES]
        scale = 0.45 / sum(r for c, r in zip(CATEGORIES, rest, strict=True) if c != self.dominant)
        self.taste = {c: (0.55 if c == self.dominant else r * scale) for c, r in zip(CATEGORIES, rest, strict=True)}


@dataclass
class Tally:
    shown: int = 0
    accepted: int = 0
    last_week_shown: int = 0
    last_week_accepted: int = 0
    treat_n: int = 0
    treat_x: int = 0
    hold_n: int = 0
    hold_x: int = 0
    true_uplift: list[float] = field(default_factory=list)


class Learner:
    """The agent's learning, as the runtime does it: the store's in-memory profiles (the same
    answers as the SQLite tables, tests/store/test_profiles.py), without a database."""

    def __init__(self) -> None:
        self.profiles = MemoryProfiles()

    def learn(self, customer_id: str, category: str, signal: str, now: float) -> None:
        self.profiles.learn(customer_id, category, SIGNALS[signal], now, HALF_LIFE_S)

    def affinities(self, customer_id: str, now: float) -> dict[str, float]:
        return self.profiles.affinities(customer_id, now, HALF_LIFE_S)


class BayesFilter(Learner):
    """The ceiling for any learner that decides at the door: a forward filter over "which category
    is the favourite now", told this simulator's own drift rate and signal probabilities (a
    non-favourite share is taken at its mean). No real store knows these; the agent does not use it."""

    def __init__(self) -> None:
        super().__init__()
        self.belief: dict[str, tuple[dict[str, float], float]] = {}

    def learn(self, customer_id: str, category: str, signal: str, now: float) -> None:
        prior = self.prior(customer_id, now) or dict.fromkeys(CATEGORIES, 1 / len(CATEGORIES))
        post = {d: p * _likelihood(d, signal, category) for d, p in prior.items()}
        total = sum(post.values())
        self.belief[customer_id] = ({d: p / total for d, p in post.items()}, now)

    def prior(self, customer_id: str, now: float) -> dict[str, float] | None:
        if customer_id not in self.belief:
            return None
        post, at = self.belief[customer_id]
        moved = 1 - (1 - DRIFT_PER_WEEK) ** (max(now - at, 0.0) / WEEK)
        return {d: p * (1 - moved) + (1 - p) * moved / (len(CATEGORIES) - 1) for d, p in post.items()}


def _likelihood(favourite: str, signal: str, category: str) -> float:
    taste = 0.55 if category == favourite else 0.45 / (len(CATEGORIES) - 1)
    return {
        "try_on": taste,
        "like": 0.25 + 0.7 * taste,
        "dislike": 0.01 if category == favourite else 0.3,
        "purchase": taste,
        "accepted": ACCEPT * taste,
        "dismissed": 1 - ACCEPT * taste,
    }[signal]


def population(rng: random.Random, n: int) -> list[Person]:
    people = []
    for i in range(n):
        first = rng.choice(CATEGORIES)
        person = Person(f"sim-{i:04d}", first, first)
        person.reshape(rng)
        people.append(person)
    for person in people:  # months between the CRM export and the first simulated week
        for _ in range(8):
            drift(person, rng)
    return people


def drift(person: Person, rng: random.Random) -> None:
    if rng.random() < DRIFT_PER_WEEK:
        person.dominant = rng.choice([c for c in CATEGORIES if c != person.dominant])
        person.reshape(rng)


def rank(policy: str, person: Person, scorer: ModelScorer, learner: Learner, now: float) -> str:
    """The offer staff present: the top of the policy's ranking."""
    if policy == "oracle":
        return max(OFFERS, key=lambda o: (person.taste[o.category], o.kind == "discount")).offer_id
    if isinstance(learner, BayesFilter):
        belief = learner.prior(person.customer_id, now) or {person.imported: 1.0}
        return f"o-{max(belief, key=lambda c: belief[c])}-0"
    taste = Taste((person.imported,), frozenset())
    if policy in ("learning", "refreshed"):
        taste = blend((person.imported,), learner.affinities(person.customer_id, now))
    customer = Customer(person.customer_id, "", "silver", True, taste.preferred, 4, 300.0)
    context = Context(zone="entrance", hour=15, weekday=2, affinities=taste.affinities)
    ranked = keep_away(scorer.score(customer, OFFERS, context), CATALOG, taste)
    return ranked[0].offer_id


def mirror_and_till(person: Person, rng: random.Random) -> list[tuple[str, str]]:
    """(signal, category) the agent observes during the visit, drawn from the true taste."""
    seen: list[tuple[str, str]] = []
    weights = [person.taste[c] for c in CATEGORIES]
    liked = []
    for category in rng.choices(CATEGORIES, weights=weights, k=3):
        seen.append(("try_on", category))
        if rng.random() < 0.25 + 0.7 * person.taste[category]:
            seen.append(("like", category))
            liked.append(category)
    for category in CATEGORIES:
        if person.taste[category] < 0.08 and rng.random() < 0.5:
            seen.append(("dislike", category))
    if liked and rng.random() < 0.3:
        seen.append(("purchase", rng.choice(liked)))
    return seen


def simulate(seed: int, customers: int, weeks: int) -> dict[str, object]:
    rng = random.Random(seed)
    people = population(rng, customers)
    scorer = ModelScorer([shipped_manifest()])
    learners = {
        "static": Learner(), "learning": Learner(), "refreshed": Learner(), "bayes": BayesFilter(), "oracle": Learner()
    }  # fmt: skip
    tallies = {p: Tally() for p in learners}
    start = 1_800_000_000.0
    for week in range(weeks):
        for person in people:
            drift(person, rng)
        visits = sorted(
            (start + week * WEEK + rng.uniform(0, WEEK), person) for person in people for _ in range(_poisson(rng, 1.0))
        )
        for now, person in visits:
            draw = rng.random()  # common random numbers: every policy faces the same customer mood
            observed = mirror_and_till(person, rng)
            mirror_first = rng.random() < IN_VISIT_SHARE
            holdout = in_holdout(person.customer_id, HOLDOUT_PCT)
            for policy, tally in tallies.items():
                # Only `refreshed` acts on the evidence of this visit before deciding.
                before = [o for o in observed if o[0] != "purchase"] if policy == "refreshed" and mirror_first else []
                for signal, category in before:
                    learners[policy].learn(person.customer_id, category, signal, now)
                _decide(
                    policy,
                    tally,
                    person,
                    holdout,
                    draw,
                    now,
                    week == weeks - 1,
                    week >= weeks - 4,
                    scorer,
                    learners[policy],
                )
                after = [o for o in observed if o[0] == "purchase"] if before else observed
                for signal, category in after:
                    learners[policy].learn(person.customer_id, category, signal, now)
    return _figures(tallies, weeks)


def _decide(
    policy: str,
    tally: Tally,
    person: Person,
    holdout: bool,
    draw: float,
    now: float,
    last_week: bool,
    estimate: bool,
    scorer: ModelScorer,
    learner: Learner,
) -> None:
    offer_id = rank(policy, person, scorer, learner, now)
    category = next(o.category for o in OFFERS if o.offer_id == offer_id)
    p_accept = ACCEPT * person.taste[category]
    p_treated = p_accept + (1 - p_accept) * BASELINE
    if holdout:
        converted = draw < BASELINE
        if estimate:
            tally.hold_n += 1
            tally.hold_x += converted
        return
    accepted = draw < p_accept
    # Staff press Accepted or Dismiss on the tablet: the agent learns from that too.
    learner.learn(person.customer_id, category, "accepted" if accepted else "dismissed", now)
    tally.shown += 1
    tally.accepted += accepted
    if last_week:
        tally.last_week_shown += 1
        tally.last_week_accepted += accepted
    if estimate:
        tally.treat_n += 1
        tally.treat_x += accepted or draw < p_treated
        tally.true_uplift.append(p_treated - BASELINE)


def _poisson(rng: random.Random, mean: float) -> int:
    k, threshold, product = 0, math.exp(-mean), rng.random()
    while product > threshold:
        k += 1
        product *= rng.random()
    return k


def _figures(tallies: dict[str, Tally], weeks: int) -> dict[str, object]:
    rates = {p: t.last_week_accepted / max(t.last_week_shown, 1) for p, t in tallies.items()}
    learning = tallies["learning"]
    estimate = newcombe(learning.treat_x, learning.treat_n, learning.hold_x, learning.hold_n)
    uplift_true = sum(learning.true_uplift) / max(len(learning.true_uplift), 1)
    return {
        "weeks": weeks,
        "accept_rate_static": round(rates["static"], 4),
        "accept_rate_learning": round(rates["learning"], 4),
        "accept_rate_oracle": round(rates["oracle"], 4),
        "learning_vs_static": round(rates["learning"] / max(rates["static"], 1e-9), 3),
        "learning_vs_oracle": round(rates["learning"] / max(rates["oracle"], 1e-9), 3),
        "accept_rate_refreshed": round(rates["refreshed"], 4),
        "refreshed_vs_learning": round(rates["refreshed"] / max(rates["learning"], 1e-9), 3),
        "accept_rate_bayes_ceiling": round(rates["bayes"], 4),
        "learning_vs_bayes": round(rates["learning"] / max(rates["bayes"], 1e-9), 3),
        "bayes_ceiling_vs_oracle": round(rates["bayes"] / max(rates["oracle"], 1e-9), 3),
        "uplift_true": round(uplift_true, 4),
        "uplift_estimated": None if estimate.uplift is None else round(estimate.uplift, 4),
        "uplift_ci95_low": None if estimate.ci95_low is None else round(estimate.ci95_low, 4),
        "uplift_ci95_high": None if estimate.ci95_high is None else round(estimate.ci95_high, 4),
        "uplift_true_inside_ci": estimate.enough_data
        and (estimate.ci95_low or 0) <= uplift_true <= (estimate.ci95_high or 0),
        "decisions_last_week": learning.last_week_shown,
        "holdout_visits_estimated": learning.hold_n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--weeks", type=int, default=8)
    args = parser.parse_args()
    seeds = args.seeds[:1] if args.quick else args.seeds
    customers = 150 if args.quick else args.customers
    started = time.monotonic()
    runs = {seed: simulate(seed, customers, args.weeks) for seed in seeds}
    first = runs[seeds[0]]
    result = {**first, "seeds": {str(s): r for s, r in runs.items()}, "customers": customers}
    per_seed = [r["learning_vs_bayes"] for r in runs.values()]
    result["learning_vs_bayes"] = round(sum(v for v in per_seed if isinstance(v, float)) / len(per_seed), 3)
    result["learning_vs_bayes_seed"] = first["learning_vs_bayes"]
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
