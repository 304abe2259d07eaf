"""dlgrade: grading and scaffolding for the VITMAV45 deep-learning homework.

The package is the engine: it knows no assignment. Its rooms, by who runs them (ARCHITECTURE.md):
core (shared vocabulary), intake (submission -> workspace), boundary (the sandboxed worker and
both ends of its channel), trusted (the pytest plugin), authoring (what tests import), grading
(one submission, a batch), records (gradebook, roster), reports (every renderer), scaffold
(templates, bundles) and commands (the CLI's verbs). This file stays cheap and imports nothing:
the sandboxed worker imports it on its way to `grader.boundary.inside.worker`.
"""
__version__ = "0.1.0"
