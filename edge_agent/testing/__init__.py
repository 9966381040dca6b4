"""Test helpers that ship with the package: broker fixture, advertisement factories, configs."""
