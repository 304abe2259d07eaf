"""Similarity and integrity analysis of a batch: each submission's code, logs and write-ups read as
grading reads them (report), compared pair by pair (similarity: code as winnowed fingerprints of a
normalised syntax tree in code_fingerprints, logs as records with tolerances in log_records,
write-ups as shingles in prose). Produces data only; the renderers (grader.reports) turn it into
integrity.csv and summary.html's section, the review app (grader.review) into the pair view. Runs in
the command process; may import core and intake. Never imported by the worker.
"""
