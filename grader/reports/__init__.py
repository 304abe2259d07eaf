"""Every renderer: the terminal (the only importer of rich), feedback as Markdown and HTML (Jinja2
templates in templates/, autoescaped: page_templates), the words they share (wording), summary.html's
sections (summary_sections, failure_groups, score_histogram), the CSV exports (spreadsheets,
integrity_csv), text made inert for the terminal, CSV and Markdown (safe_text), the outputs with the
reviewers' decisions applied (reviewed) and where the review of a batch stands (batch_review), the
deadline's wording (late_work). The integrity analysis itself is grader.integrity; this room renders
it. Runs in the command process after grading; may import core, intake, boundary (the isolation's
wording), records and integrity. Never imported by the worker.
"""
