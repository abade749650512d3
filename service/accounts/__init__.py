"""Workspaces and their credentials."""
