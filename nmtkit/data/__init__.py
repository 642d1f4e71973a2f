"""Data handling below the commands: text I/O, vocabularies, tokenizers, batching, corpora."""
