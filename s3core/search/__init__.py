"""The s3 searcher's episode: action parsing and selected-context extraction (engine-free)."""
