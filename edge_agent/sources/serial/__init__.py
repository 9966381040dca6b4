"""Serial sources: line-protocol devices and Modbus RTU devices, one port each."""

from .line import SerialLineSource

__all__ = ["SerialLineSource"]
