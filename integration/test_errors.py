"""Issue 2: bad input gets one clear error, a non-zero exit, and changes nothing."""
import json
import os


from harness import BERTH, fails, run


def snapshot(host):
    return (host.berth("ps", "-a", "-q").stdout, host.berth("network", "ls", "-q").stdout, sorted(l["ifname"] for l in host.links()))


def test_bad_input_is_rejected_without_changes(host):
    host.berth("run", "-d", "--name", "taken", "busybox", "sleep", "600")
    before = snapshot(host)
    assert "network" in fails(host, "run", "-d", "--network", "nosuchnet", "busybox", "true").lower()
    assert "no such container" in fails(host, "inspect", "ghost").lower()
    assert "no such container" in fails(host, "stop", "ghost").lower()
    assert "no such container" in fails(host, "rm", "-f", "ghost").lower()
    assert "image" in fails(host, "run", "-d", "nosuchimage", "true").lower()
    assert "already in use" in fails(host, "run", "-d", "--name", "taken", "busybox", "true")
    assert "invalid container name" in fails(host, "run", "-d", "--name", "bad/name", "busybox", "true")
    assert "running" in fails(host, "rm", "taken")
    assert "invalid" in fails(host, "network", "create", "--subnet", "10.0.0.0/33", "n1").lower()
    assert "invalid" in fails(host, "network", "create", "--subnet", "banana", "n1").lower()
    assert "no such container" in fails(host, "run", "-d", "--network", "container:ghost2", "busybox", "true").lower()
    assert snapshot(host) == before


def test_api_status_codes(host):
    status, body = host.api("POST", "/v1.44/containers/create", raw="this is not json")
    assert status == 400 and "message" in body
    status, body = host.api("GET", "/containers/ghost/json")
    assert status == 404 and "ghost" in body["message"]
    status, body = host.api("GET", "/networks/ghost")
    assert status == 404
    status, body = host.api("POST", "/containers/create?name=x", body={"Image": "nosuchimage"})
    assert status == 404
    status, body = host.api("POST", "/networks/create", body={"Name": "bad", "IPAM": {"Config": [{"Subnet": "300.0.0.0/8"}]}})
    assert status == 400
    status, body = host.api("GET", "/no/such/path")
    assert status == 404


# Docker answers 403 here: the Engine API's NetworkDelete lists 403 "operation not supported
# for pre-defined networks", and moby returns errdefs.Forbidden with the message below.
def test_removing_a_predefined_network_is_forbidden(host):
    for name in ("bridge", "host", "none"):
        status, body = host.api("DELETE", f"/networks/{name}")
        assert (status, body.get("message")) == (403, f"{name} is a pre-defined network and cannot be removed")
    status, body = host.api("GET", "/networks")
    assert {"bridge", "host", "none"} <= {network["Name"] for network in body}


def test_pool_exhausted(make_host):
    host = make_host(bip="10.98.0.1/30")  # a /30 has exactly one container address
    host.berth("run", "-d", "--name", "only", "busybox", "sleep", "600")
    line = fails(host, "run", "-d", "busybox", "sleep", "1")
    assert "no free address" in line


def test_daemon_not_running():
    result = run([BERTH, "-H", "unix:///tmp/berth-tests/nothing-here.sock", "ps"], check=False)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot connect" in lines[0].lower()
    env = dict(os.environ, BERTH_HOST="unix:///tmp/berth-tests/nothing-here.sock")
    result = run([BERTH, "ps"], check=False, env=env)
    assert result.returncode != 0 and "nothing-here.sock" in result.stderr


# Docker outside a swarm answers its swarm endpoints with 503 and these messages, which
# clients rely on; berth runs no swarm, so it answers the same (init and join are refused).
def test_swarm_endpoints_answer_as_a_docker_outside_a_swarm(host):
    manager = ("This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" "
               "to connect this node to swarm and try again.")
    for path in ("/v1.44/swarm", "/nodes", "/services", "/tasks", "/secrets", "/configs", "/nodes/abc"):
        status, body = host.api("GET", path)
        assert (status, body.get("message")) == (503, manager), path
    status, body = host.api("POST", "/swarm/leave")
    assert (status, body.get("message")) == (503, "This node is not part of a swarm")
    status, body = host.api("POST", "/swarm/init", body={"ListenAddr": "0.0.0.0:2377"})
    assert status == 400 and "swarm" in body["message"]
    # The docker CLI's view of the same.
    result = host.docker("node", "ls", check=False)
    assert result.returncode != 0 and "not a swarm manager" in result.stderr


# Network fields Docker acts on that berth cannot honour are refused, naming them, and
# nothing is made.
def test_network_fields_berth_cannot_honour_are_refused(host):
    before = snapshot(host)
    # (--config-only and --config-from are honoured now: test_network_api.py.)
    status, body = host.api("POST", "/networks/create", body={"Name": "ipam", "IPAM": {"Driver": "infoblox"}})
    assert status == 400 and "infoblox" in body["message"]
    result = host.docker("network", "create", "--scope", "swarm", "sw", check=False)
    assert result.returncode != 0 and "scope swarm" in result.stderr
    status, body = host.api("POST", "/networks/create", body={"Name": "ing", "Ingress": True})
    assert status == 400 and "ingress" in body["message"]
    assert snapshot(host) == before
    # What the CLI sends by default still works.
    host.docker("network", "create", "plain")
