"""Shipped device profiles (YAML), installed as package data."""
