"""Grading one submission (runner: workspace, trusted pytest process, result) and many
(backends: local threads or Ray tasks behind one interface). Runs in the instructor's or student's
command process; may import core, intake, boundary and trusted.
"""
