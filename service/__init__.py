"""Universal Translator Pro: a translation gateway for Rocket.Chat."""

__version__ = "0.1.0"
