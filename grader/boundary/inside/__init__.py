"""What the sandboxed worker sees of the engine: this folder (and grader/__init__.py, grader/boundary/__init__.py
and the student package) is all the worker's filesystem shows, so every module here imports only the
standard library, numpy/torch where a worker has them, and this folder.

The worker's entries: `boot` (a cold start's first steps, and a forked one's), `worker_fork` (the worker
zygote's child entering its rung), `worker` (serving calls), `stand_ins` (what the filtered submission
calls). Around them: `protocol` (the wire format both ends speak), `top_level` (a submission's top level
run one statement at a time), `mountns` (rung b's mount namespace, run as a script), `zygote_process`
(the zygote the forked workers come from), `zygote_wire` (its socket's framing and kinds) and
`fork_request` (the typed request a zygote forks a child for). The trusted side imports these from here;
nothing here imports the trusted side.
"""
