"""Usage accounting."""
