"""From what a student handed in to a workspace the worker can import: unpacking archives
safely, finding submissions in a batch (discovery), converting notebooks, the definitions-only
filter and the bounds on parsing student source. Runs on the trusted side before any student code
does; it reads student bytes but never executes them. May import core, and boundary.inside.stand_ins
(whose calls the definitions filter writes into the submission).
"""
