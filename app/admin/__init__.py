"""Procurement administration: organizations and users across the network."""
