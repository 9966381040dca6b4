"""Simulators of the store's devices (BLE radio and customers, mirror, serial sensors, a local broker).

The demo and `device scan --simulate` run them; the tests drive the agent with the same classes.
"""
