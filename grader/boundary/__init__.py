"""The trust boundary: starting the worker in a sandbox (sandbox, rungs, mount_view, launch, boot, mountns,
zygote, zygote_process, worker_fork, cgroups, uid_slots), the worker itself (worker, stand_ins), the wire format (protocol) and the trusted end of the channel (client).
The worker's filesystem shows this package (plus grader/__init__.py and the student package) and
nothing else of the engine, so worker and protocol import only the standard library and each other.
The launcher and the client run in the trusted process and may import core; nothing here imports
trusted, grading, records, reports, scaffold or commands.
"""
