"""Ingestion, one module a stage: `sources` reads files into documents, `cleaning` and `boilerplate`
strip what is not the story, `chunking` splits it into passages with offsets, `tagging` marks
entity and noun-phrase spans with spaCy."""
