"""Every renderer: the terminal (the only importer of rich), feedback as Markdown and
HTML, the CSV exports, text made inert for each of them (safe_text), the outputs with the reviewers'
decisions applied (reviewed) and where the review of a batch stands (batch_review), the
deadline's wording (late_work), and the integrity report with its similarity measures. Runs in the command process after grading; may import core, intake,
boundary (the isolation's wording) and records. Never imported by the worker.
"""
