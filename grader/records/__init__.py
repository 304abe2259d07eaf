"""What a batch remembers: the gradebook (one SQLite row per submission), the reviewers'
decisions kept in the same file (decisions), the roster, and the hashes that decide whether a row
is still current (freshness). Runs in the `grade` process, and in whatever records a decision (the
review app, `dlgrade adjust`); may import core only.
"""
