"""The trusted pytest process of one submission: the plugin (markers, fixtures, the
worker session per test module, the report it writes) and the course key behind hidden data, and the data prepared once per command (`@prepared`). Runs
only in the per-submission pytest process the grading room starts; may import core, intake,
boundary and authoring. Student code never sees it.
"""
