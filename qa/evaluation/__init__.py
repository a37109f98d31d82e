"""Measuring answers: `questions` runs `qa eval` over a JSONL question file; `squad` loads the SQuAD
benchmark and scores answers the way its official script does."""
