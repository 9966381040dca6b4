"""BLE sources: a bleak backend for a local adapter and a scenario-driven simulator."""

from .simulated import BeaconScript, Scenario, SimulatedBleSource, load_scenario

__all__ = ["BeaconScript", "Scenario", "SimulatedBleSource", "load_scenario"]
