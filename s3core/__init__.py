"""s3core: the logic of the s3-workflow (retrieval, generation, metrics, methods, training)."""

__version__ = "0.1.0"
