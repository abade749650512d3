"""Glossaries: term pairs and do-not-translate terms per workspace (optionally per channel)."""
