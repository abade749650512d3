"""The CrossGuard policy pack: rules in `policies.rules`, offline runner in `policies.offline`."""
