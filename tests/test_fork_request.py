"""The zygote's requests are typed and checked on arrival (grader/boundary/inside/fork_request.py): what
the grader asks for crosses intact, and a malformed request is refused before anything is forked, so
the caller starts its process cold instead of a child booting from a half-read request."""
from __future__ import annotations

import os
import socket

import pytest

from grader.boundary import sandbox, zygote
from grader.boundary.inside.boot import BootPlan
from grader.boundary.inside.fork_request import PytestForkRequest, WorkerForkRequest
from grader.boundary.inside.zygote_wire import recv_msg, send_msg

PLAN = BootPlan(engine="/opt/engine", env={"PATH": "/usr/bin"}, rlimits=(("RLIMIT_CPU", 60),), drop_to=None)
ON_RUNG_A = WorkerForkRequest(level="bwrap", workspace="/tmp/w1", threads=2, boot=PLAN,
                              bwrap=("/usr/bin/bwrap", "--unshare-all"))


@pytest.mark.parametrize("request_", [
    ON_RUNG_A,
    WorkerForkRequest(level="namespaces", workspace="/tmp/w2", threads=1, boot=PLAN, view={"ro": ["/usr"], "rw": "/tmp/w2"}),
    WorkerForkRequest(level="uid", workspace="/tmp/w3", threads=1, boot=PLAN, uid=60001),
    WorkerForkRequest(level="none", workspace="/tmp/w4", threads=1, boot=PLAN),
    PytestForkRequest(args=("-q", "tests"), cwd="/srv/course", env={"HOME": "/tmp"}),
])
def test_a_request_crosses_the_socket_intact(request_):
    a, b = socket.socketpair()
    with a, b:
        send_msg(a, request_.to_json())
        data, _ = recv_msg(b)
    assert type(request_).from_json(data) == request_


def _broken(**changes) -> dict:
    return {**ON_RUNG_A.to_json(), **changes}


@pytest.mark.parametrize("data, message", [
    (_broken(version=2), "version 1 was expected"),
    ("a string", "version 1 was expected"),
    (_broken(level="chroot"), "level 'chroot' is none of"),
    (_broken(bwrap=[]), "on rung 'bwrap' needs its 'bwrap'"),
    (_broken(level="namespaces"), "on rung 'namespaces' needs its 'view'"),
    (_broken(level="uid"), "on rung 'uid' needs its 'uid'"),
    (_broken(threads="2"), "'threads' has the wrong type (str)"),
    (_broken(threads=True), "'threads' has the wrong type (bool)"),
    (_broken(threads=0), "threads must be at least 1"),
    (_broken(workspace=None), "'workspace' has the wrong type"),
    (_broken(bwrap=["bwrap", 3]), "'bwrap' holds something other than strings"),
    (_broken(boot={"engine": "/opt/engine"}), "a boot plan of version 1 was expected"),
])
def test_a_malformed_worker_request_is_refused_naming_the_field(data, message):
    with pytest.raises(ValueError) as raised:
        WorkerForkRequest.from_json(data)
    assert message in str(raised.value)


@pytest.mark.parametrize("changes, message", [
    ({"args": "-q"}, "'args' has the wrong type"),
    ({"env": {"HOME": 1}}, "'env' holds something other than strings"),
    ({"cwd": 7}, "'cwd' has the wrong type"),
])
def test_a_malformed_pytest_request_is_refused_naming_the_field(changes, message):
    data = {**PytestForkRequest(args=("-q",), cwd="/srv").to_json(), **changes}
    with pytest.raises(ValueError) as raised:
        PytestForkRequest.from_json(data)
    assert message in str(raised.value)


def test_the_zygote_forks_nothing_for_a_malformed_request_and_says_why(tmp_path):
    z = zygote.Zygote(zygote.WORKER, sandbox.zygote_environment(), isolated=True)  # as a command starts it
    try:
        z.wait_ready()
        if not z.alive:
            pytest.skip(f"no worker zygote here: {z.error}")
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(30)
        out_r, out_w = os.pipe()
        with conn:
            conn.connect(z.address)
            send_msg(conn, _broken(level="uid"), [out_w, out_w])
            reply, _ = recv_msg(conn)
        os.close(out_r)
        os.close(out_w)
        assert "pid" not in reply and "needs its 'uid'" in reply["error"]
        assert z.alive, "a malformed request must not end the zygote"
        no_uid = WorkerForkRequest(level="uid", workspace=str(tmp_path), threads=1, boot=PLAN)  # built, not checked
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            with pytest.raises(zygote.Unavailable, match="needs its 'uid'"):   # what the launcher sees: it starts cold
                zygote.spawn(z.address, no_uid, [null, null])
        finally:
            os.close(null)
    finally:
        z.close()
