"""Sources: one protocol, one module per transport, simulators as backends."""
