"""Offer scoring and business rules."""
