"""The scenario format and its replaying source, as the demo and the tests know them: they live in
`edge_agent.sources.ble.scenario` (`edge-agent run --simulate` is a source like any other)."""

from ..sources.ble.scenario import BeaconScript, Keyframe, Scenario, SimulatedBleSource, load_scenario

__all__ = ["BeaconScript", "Keyframe", "Scenario", "SimulatedBleSource", "load_scenario"]
