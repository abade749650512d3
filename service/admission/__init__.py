"""Admission: the one way a translation request is let in (see translator.py)."""
