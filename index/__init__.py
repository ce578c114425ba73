"""Khabar's retrieval side: corpus reading, text processing, embeddings, BM25, faiss,
hybrid retrieval and the on-disk index. Knows nothing about Slack or the REPL."""
