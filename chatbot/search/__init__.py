"""Search: embeddings, the saved index and hybrid retrieval over it."""
