"""Retrieval: indexes (BM25, dense/FAISS), the HTTP server with dynamic batching, its client and sidecar."""
