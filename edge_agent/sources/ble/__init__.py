"""BLE sources: the bleak backend for a local adapter (`bleak.py`) and the replay of a scenario file
(`scenario.py`, `edge-agent run --simulate`, also what the demo and the tests drive)."""
