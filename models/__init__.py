"""The shipped offer-scoring models, installed as package data."""
