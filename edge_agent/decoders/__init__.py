"""Decoders: bytes and text from devices into typed model events."""
