"""Row files: JSONL with file:line errors, atomic publishing, corpus documents and QA sets."""
