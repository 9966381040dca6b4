"""BLE sources: the bleak backend for a local adapter (`bleak.py`); the simulator lives in `edge_agent.sim.ble`."""
