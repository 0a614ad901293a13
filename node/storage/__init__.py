"""Durable storage of accepted instances (the spool)."""
