"""The trust boundary. The trusted side: starting the worker in a sandbox (sandbox, rungs, mount_view,
launch, zygote, cgroups, uid_slots, closed_folders, canary) and the trusted end of the channel (client,
remote, output_reader, time_limits, student_messages, cpu_time, near_miss); these may import core.
The worker side is `inside/` (boot, worker_fork, worker, stand_ins, top_level, mountns, protocol,
zygote_process, zygote_wire, fork_request): the worker's filesystem shows that folder (plus this file,
grader/__init__.py and the student package) and nothing else of the engine, so what is in it imports
only the standard library (numpy, torch where a worker has them) and itself. Nothing here imports
trusted, grading, records, reports, scaffold or commands. This file imports nothing: the worker imports it.
"""
