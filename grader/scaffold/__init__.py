"""Writing assignments and bundles: templates generated from reference solutions,
`build`, `new`, `release`, the Gradescope autograder, and the spec's environment (the packages a
bundle requires and a worker must import). Runs in the instructor's command process; may import
core, trusted (the course key a bundle carries) and boundary.client (a worker that tries the imports).
"""
