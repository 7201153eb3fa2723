"""Issue 14 (netapi): config-only networks, network names, legacy link semantics and the
network JSON fields, through the real docker CLI and the raw API."""
import json

from harness import wait_until


def inspect_network(host, name):
    return json.loads(host.docker("network", "inspect", name).stdout)[0]


def test_config_only_and_config_from_networks(host):
    host.docker("network", "create", "--config-only", "--subnet", "10.77.0.0/24", "--gateway", "10.77.0.254",
                "-o", "com.docker.network.bridge.enable_icc=false", "--label", "team=net", "cfg")
    cfg = inspect_network(host, "cfg")
    assert (cfg["ConfigOnly"], cfg["Driver"], cfg["Scope"]) == (True, "null", "local")
    assert cfg["IPAM"]["Config"] == [{"Subnet": "10.77.0.0/24", "Gateway": "10.77.0.254"}]
    # Nothing in the kernel for it.
    assert not [link for link in host.links() if link["ifname"].startswith("br-" + cfg["Id"][:12])]
    result = host.docker("run", "-d", "--network", "cfg", "busybox", "sleep", "600", check=False)
    assert result.returncode != 0 and "configuration-only network" in result.stderr
    # A network made from it may not bring settings of its own.
    result = host.docker("network", "create", "--config-from", "cfg", "--subnet", "10.78.0.0/24", "bad", check=False)
    assert result.returncode != 0 and "user-specified configurations are not supported" in result.stderr
    result = host.docker("network", "create", "--config-from", "ghost", "bad", check=False)
    assert result.returncode != 0 and 'configuration network "ghost" does not exist' in result.stderr
    result = host.docker("network", "create", "--config-only", "--internal", "bad", check=False)
    assert result.returncode != 0 and "Network operator fields" in result.stderr

    host.docker("network", "create", "--config-from", "cfg", "real")
    real = inspect_network(host, "real")
    assert real["ConfigFrom"] == {"Network": "cfg"} and real["ConfigOnly"] is False
    assert real["IPAM"]["Config"][0]["Subnet"] == "10.77.0.0/24"
    assert real["Options"]["com.docker.network.bridge.enable_icc"] == "false"
    assert real["Labels"] == {"team": "net"}
    result = host.docker("network", "rm", "cfg", check=False)
    assert result.returncode != 0 and 'configuration network "cfg" is in use' in result.stderr

    host.restart()
    assert inspect_network(host, "cfg")["ConfigOnly"] is True
    assert inspect_network(host, "real")["ConfigFrom"] == {"Network": "cfg"}
    host.docker("run", "-d", "--name", "c1", "--network", "real", "busybox", "sleep", "600")
    assert host.ip_of("c1", "real").startswith("10.77.0.")
    assert host.docker("network", "prune", "-f").returncode == 0
    assert "cfg" in host.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    host.docker("rm", "-f", "c1")
    host.docker("network", "rm", "real")
    host.docker("network", "rm", "cfg")
    assert "cfg" not in host.docker("network", "ls", "--format", "{{.Name}}").stdout.split()


def test_network_names_as_docker_takes_them(host):
    host.docker("network", "create", "my net")
    host.docker("network", "create", "dots.and-dashes_and_ünicode")
    assert inspect_network(host, "my net")["Name"] == "my net"
    host.docker("run", "-d", "--name", "c1", "--network", "my net", "busybox", "sleep", "600")
    assert "my net" in host.inspect("c1")["NetworkSettings"]["Networks"]
    names = host.docker("network", "ls", "--filter", "name=my net", "--format", "{{.Name}}").stdout.split("\n")
    assert "my net" in names
    for name, words in (("bridge", "predefined bridge network"), ("default", "predefined default network"), ("  ", "name is empty")):
        result = host.docker("network", "create", name, check=False)
        assert result.returncode != 0 and words in result.stderr, result.stderr
    result = host.docker("network", "rm", "my net", check=False)
    assert result.returncode != 0 and "active endpoints" in result.stderr
    host.docker("rm", "-f", "c1")
    host.docker("network", "rm", "my net")


def test_link_targets_env_and_removal(host):
    result = host.docker("create", "--name", "early", "--link", "db:data", "busybox", "sleep", "600", check=False)
    assert result.returncode != 0 and "could not get container for db" in result.stderr
    # On a user-defined network a link is only a name: its target may come later.
    host.docker("network", "create", "n1")
    host.docker("run", "-d", "--name", "early", "--network", "n1", "--link", "later:db", "busybox", "sleep", "600")
    host.docker("run", "-d", "--name", "later", "--network", "n1", "busybox", "sleep", "600")
    later_ip = host.ip_of("later", "n1")
    out = host.docker("exec", "early", "ping", "-c", "1", "-W", "2", "db").stdout
    assert f"({later_ip})" in out

    host.docker("run", "-d", "--name", "db", "-e", "ROLE=primary", "--expose", "5432", "busybox", "sleep", "600")
    host.docker("create", "--name", "stopped", "busybox", "sleep", "600")
    host.docker("create", "--name", "web2", "--link", "stopped:s", "busybox", "sleep", "600")
    result = host.docker("start", "web2", check=False)
    assert result.returncode != 0 and "Cannot link to a non running container: /stopped AS /web2/s" in result.stderr

    host.docker("run", "-d", "--name", "web", "--link", "db:data", "--add-host", "extra.example:192.0.2.7",
                "--domainname", "example.org", "busybox", "sleep", "600")
    db_ip = host.ip_of("db")
    environ = host.docker("exec", "web", "cat", "/proc/1/environ").stdout.split("\0")
    for variable in ("DATA_NAME=/web/data", "DATA_ENV_ROLE=primary", f"DATA_PORT=tcp://{db_ip}:5432",
                     f"DATA_PORT_5432_TCP_ADDR={db_ip}", "DATA_PORT_5432_TCP_PORT=5432", "DATA_PORT_5432_TCP_PROTO=tcp"):
        assert variable in environ, variable
    assert "data" in host.docker("exec", "web", "cat", "/etc/hosts").stdout
    host.docker("rm", "--link", "/web/data")
    hosts = host.docker("exec", "web", "cat", "/etc/hosts").stdout
    assert "data" not in hosts.split(), hosts
    # Rewriting the links keeps the --add-host entry and the --domainname FQDN.
    assert "192.0.2.7\textra.example" in hosts, hosts
    assert host.inspect("web")["Id"][:12] + ".example.org" in hosts, hosts
    assert host.inspect("web")["State"]["Running"] and host.inspect("db")["State"]["Running"]
    result = host.docker("rm", "--link", "/web/data", check=False)
    assert result.returncode != 0


def test_endpoint_fields_as_the_spec_has_them(host):
    host.docker("network", "create", "--subnet", "10.79.0.0/24", "n1")
    host.docker("create", "--name", "c1", "--network", "n1", "--ip", "10.79.0.9", "--mac-address", "02:42:0a:4f:00:09",
                "busybox", "sleep", "600")
    settings = host.inspect("c1")["NetworkSettings"]
    endpoint = settings["Networks"]["n1"]
    assert endpoint["MacAddress"] == "02:42:0a:4f:00:09"
    assert endpoint["IPAMConfig"] == {"IPv4Address": "10.79.0.9"}
    for key in ("Links", "Aliases", "DriverOpts", "DNSNames", "NetworkID", "EndpointID", "Gateway", "IPAddress",
                "IPPrefixLen", "IPv6Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen"):
        assert key in endpoint, key
    assert settings["SecondaryIPAddresses"] is None
    status, body = host.api("POST", "/containers/create?name=c2", body={
        "Image": "busybox", "Cmd": ["sleep", "600"], "HostConfig": {"NetworkMode": "n1"},
        "NetworkingConfig": {"EndpointsConfig": {"n1": {"DriverOpts": {}, "IPAMConfig": {"LinkLocalIPs": []}}}}})
    assert status == 201, body
    host.docker("start", "c2")
    endpoint = host.inspect("c2")["NetworkSettings"]["Networks"]["n1"]
    assert endpoint["DriverOpts"] == {} and endpoint["IPAMConfig"] == {}
    summary = [c for c in host.api("GET", "/containers/json")[1] if c["Names"] == ["/c2"]][0]
    assert summary["NetworkSettings"]["Networks"]["n1"]["DriverOpts"] == {}
    result = host.docker("network", "connect", "--driver-opt", "com.example.x=1", "bridge", "c2", check=False)
    assert result.returncode != 0 and "com.example.x" in result.stderr
    result = host.docker("network", "connect", "--link-local-ip", "169.254.9.9", "bridge", "c2", check=False)
    assert result.returncode != 0 and "link-local" in result.stderr
    assert list(host.inspect("c2")["NetworkSettings"]["Networks"]) == ["n1"]
    network = inspect_network(host, "n1")
    for key in ("Name", "Id", "Created", "Scope", "Driver", "EnableIPv4", "EnableIPv6", "IPAM", "Internal", "Attachable",
                "Ingress", "ConfigFrom", "ConfigOnly", "Containers", "Options", "Labels"):
        assert key in network, key
    assert network["Containers"][host.inspect("c2")["Id"]]["Name"] == "c2"
    wait_until(lambda: host.inspect("c2")["State"]["Running"])
