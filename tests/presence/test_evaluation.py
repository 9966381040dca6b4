"""The presence engine meets its targets on a simulated store (a shorter day than the benchmark's)."""

from __future__ import annotations

from edge_agent.sim.storeworld import evaluate


def test_simulated_day_meets_the_presence_targets() -> None:
    result = evaluate(visitors=80, known_visitors=30, passers=150, known_passers=30, seed=11)
    assert result["recall"] >= 0.98
    assert result["precision"] >= 0.99
    assert isinstance(result["delay_s_median"], float) and result["delay_s_median"] <= 3.0
    assert result["false_exits_per_customer_hour"] <= 0.05
    assert result["anonymous_passers_entered"] == 0
