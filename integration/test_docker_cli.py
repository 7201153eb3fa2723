"""Issue 2: the real docker CLI works against berthd."""
import json


def test_docker_cli_against_berthd(host):
    version = host.docker("version").stdout
    assert "Server" in version and "berth" in version
    api = json.loads(host.docker("version", "--format", "{{json .}}").stdout)
    assert float(api["Server"]["ApiVersion"]) >= 1.44

    networks = host.docker("network", "ls").stdout
    for name in ("bridge", "host", "none"):
        assert name in networks
    bridge = json.loads(host.docker("network", "inspect", "bridge").stdout)[0]
    assert bridge["Driver"] == "bridge" and bridge["IPAM"]["Config"][0]["Subnet"] == "172.17.0.0/16"

    host.berth("run", "-d", "--name", "web", "busybox", "sleep", "600")
    host.berth("create", "--name", "idle", "busybox", "true")
    ps = host.docker("ps").stdout
    assert "web" in ps and "idle" not in ps
    ps_all = host.docker("ps", "-a").stdout
    assert "web" in ps_all and "idle" in ps_all
    bridge = json.loads(host.docker("network", "inspect", "bridge").stdout)[0]
    assert [c["Name"] for c in bridge["Containers"].values()] == ["web"]

    inspect = json.loads(host.docker("inspect", "web").stdout)[0]
    assert inspect["Name"] == "/web"
    assert inspect["State"]["Running"] is True
    assert inspect["NetworkSettings"]["Networks"]["bridge"]["IPAddress"].startswith("172.17.")
    assert host.docker("inspect", "--format", "{{.NetworkSettings.IPAddress}}", "web").stdout.strip() == \
        inspect["NetworkSettings"]["IPAddress"]

    host.docker("stop", "-t", "1", "web")
    assert host.inspect("web")["State"]["Status"] == "exited"
    host.docker("rm", "-f", "web")
    host.docker("rm", "-f", "idle")
    assert host.docker("ps", "-aq").stdout.strip() == ""
    result = host.docker("inspect", "ghost", check=False)
    assert result.returncode != 0

    # docker run -d, exec and logs work too.
    host.docker("run", "-d", "--name", "d1", "busybox", "sh", "-c", "echo from-d1; sleep 600")
    assert host.docker("exec", "d1", "hostname").stdout.strip() == host.inspect("d1")["Id"][:12]
    assert "from-d1" in host.docker("logs", "d1").stdout
    host.docker("rm", "-f", "d1")
