"""The config: its JSON schema's validation and defaults, its typed sections, and the training fingerprint."""
