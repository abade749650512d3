"""The translation engine: providers, router, cache, detection and markup protection."""
