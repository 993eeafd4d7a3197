"""Servers and their clients' plumbing: sidecars, the run's servers, HTTP retries, provenance, devices."""
