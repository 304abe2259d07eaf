"""What a batch remembers: the gradebook (one SQLite row per submission), the roster,
and the hashes that decide whether a row is still current (freshness). Runs in the `grade`
process; may import core only.
"""
