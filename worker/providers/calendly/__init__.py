"""Calendly: its API client."""
