"""Errors that speak to a researcher: what failed, where, and what to do."""


class S3Error(Exception):
    """Base class of every error s3core raises on purpose."""


class ConfigError(S3Error):
    """A config key is missing, misspelt or has a value outside the allowed ones."""


class DataError(S3Error):
    """An input file is missing or malformed (the message names file and line)."""


class AssetError(S3Error):
    """A demo or paper asset (package, model, dataset) is missing or does not match its checksum."""


class ServiceError(S3Error):
    """A retriever or generator endpoint stayed unreachable after retries."""
