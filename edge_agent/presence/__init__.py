"""Presence: which known customer is where, decided from beacon sightings."""
