"""Issue 14: the Python Docker SDK (Debian's python3-docker) against berthd, unchanged."""
import docker
import pytest


@pytest.fixture
def client(host):
    api = docker.DockerClient(base_url="unix://" + host.socket, timeout=60)
    yield api
    api.close()


def test_system_calls(client):
    assert client.ping() is True
    version = client.version()
    assert version["ApiVersion"] and version["Version"]
    info = client.info()
    assert info["Containers"] == 0 and "Name" in info
    # berth answers as a Docker that is not part of a swarm.
    # The SDK's Swarm model swallows the 503 when it loads; a reload shows it.
    assert client.swarm.attrs == {}
    with pytest.raises(docker.errors.APIError) as raised:
        client.swarm.reload()
    assert raised.value.status_code == 503
    with pytest.raises(docker.errors.APIError) as raised:
        client.nodes.list()
    assert raised.value.status_code == 503


def test_networks(client):
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="10.81.0.0/24", gateway="10.81.0.254")])
    network = client.networks.create("pynet", driver="bridge", ipam=ipam, labels={"suite": "py"}, internal=True,
                                     options={"com.docker.network.bridge.enable_icc": "true"})
    assert network.attrs["IPAM"]["Config"][0]["Subnet"] == "10.81.0.0/24"
    assert network.attrs["Internal"] is True and network.attrs["Labels"] == {"suite": "py"}
    assert network.attrs["Options"]["com.docker.network.bridge.enable_icc"] == "true"
    assert [n.name for n in client.networks.list(filters={"label": "suite=py"})] == ["pynet"]
    assert {"bridge", "host", "none", "pynet"} <= {n.name for n in client.networks.list()}
    assert client.networks.get("pynet").id == network.id
    with pytest.raises(docker.errors.NotFound):
        client.networks.get("ghost")

    target = client.containers.run("busybox", ["sleep", "600"], name="target", detach=True)
    target.reload()
    peer = client.containers.run("busybox", ["sleep", "600"], name="peer", detach=True)
    network.connect(peer, aliases=["pal"], ipv4_address="10.81.0.50")
    network.connect(target, links=[("peer", "buddy")])
    network.reload()
    attached = {c.name for c in network.containers}
    assert attached == {"peer", "target"}
    peer.reload()
    endpoint = peer.attrs["NetworkSettings"]["Networks"]["pynet"]
    assert endpoint["IPAddress"] == "10.81.0.50" and "pal" in endpoint["Aliases"]
    assert endpoint["IPAMConfig"]["IPv4Address"] == "10.81.0.50"
    exit_code, output = target.exec_run(["ping", "-c", "1", "-W", "2", "buddy"])
    assert exit_code == 0 and b"10.81.0.50" in output
    exit_code, _ = target.exec_run(["ping", "-c", "1", "-W", "2", "pal"])
    assert exit_code == 0
    network.disconnect(peer)
    peer.reload()
    assert "pynet" not in peer.attrs["NetworkSettings"]["Networks"]
    with pytest.raises(docker.errors.APIError):
        network.remove()
    for container in (target, peer):
        container.remove(force=True)
    network.remove()
    client.networks.create("unused")
    pruned = client.networks.prune()
    assert pruned["NetworksDeleted"] == ["unused"]
    assert {n.name for n in client.networks.list()} == {"bridge", "host", "none"}


def test_containers(client):
    container = client.containers.run("busybox", ["sh", "-c", "echo hello; echo oops >&2; sleep 600"],
                                      name="py1", detach=True, labels={"suite": "py"}, environment={"A": "1"})
    assert container.name == "py1"
    container.reload()
    assert container.status == "running"
    assert container.attrs["Config"]["Labels"] == {"suite": "py"}
    assert container.attrs["NetworkSettings"]["Networks"]["bridge"]["IPAddress"].startswith("172.")
    assert [c.name for c in client.containers.list(filters={"label": "suite=py"})] == ["py1"]
    assert client.containers.get("py1").id == container.id
    for _ in range(100):
        if b"hello" in container.logs():
            break
    assert b"hello" in container.logs(stdout=True, stderr=False)
    exit_code, output = container.exec_run(["sh", "-c", "echo $A; exit 3"], environment={"A": "2"})
    assert (exit_code, output) == (3, b"2\n")
    exit_code, output = container.exec_run(["cat", "/etc/hostname"])
    assert exit_code == 0 and output.strip().decode() == container.id[:12]
    container.stop(timeout=1)
    assert container.wait(timeout=30)["StatusCode"] in (137, 143)
    container.reload()
    assert container.status == "exited"
    assert [c.name for c in client.containers.list(all=True, filters={"status": "exited"})] == ["py1"]
    assert client.containers.list() == []
    container.start()
    container.kill()
    assert container.wait(timeout=30)["StatusCode"] == 137
    container.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("py1")


# Needs work outside netapi, merged later: `containers.run()` without detach reads
# `HostConfig.LogConfig.Type` from inspect (Docker always shows {"Type": "json-file",
# "Config": {}}; berth shows none yet, a KeyError in the SDK) and then follows the logs
# (stdout, and stderr alone for ContainerError) from the stdio engineer's logs pipeline,
# with auto-remove on exit. It fails until that work is merged.
def test_run_in_the_foreground_returns_the_output(client):
    assert client.containers.run("busybox", ["echo", "foreground"], remove=True) == b"foreground\n"
    with pytest.raises(docker.errors.ContainerError) as raised:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 4"], remove=True)
    assert raised.value.exit_status == 4 and b"bad" in raised.value.stderr
    assert client.containers.list(all=True) == []
