"""Issue 3: legacy --link on the default bridge: one-way, follows restarts."""


def test_link_resolves_one_way_and_follows_restart(host):
    host.berth("run", "-d", "--name", "c1", "busybox", "sleep", "600")
    host.berth("run", "-d", "--name", "c2", "--link", "c1:db", "busybox", "sleep", "600")
    old_ip = host.ip_of("c1")
    for name in ("c1", "db"):
        out = host.berth("exec", "c2", "ping", "-c", "1", "-W", "2", name).stdout
        assert f"({old_ip})" in out
    # One way: c1 cannot resolve c2.
    assert host.berth("exec", "c1", "ping", "-c", "1", "-W", "1", "c2", check=False).returncode != 0
    # Restarting c1 gives it a new address; the link follows it.
    host.berth("run", "-d", "--name", "filler", "busybox", "sleep", "600")
    host.berth("stop", "-t", "1", "c1")
    host.berth("start", "c1")
    new_ip = host.ip_of("c1")
    assert new_ip != old_ip
    out = host.berth("exec", "c2", "ping", "-c", "1", "-W", "2", "db").stdout
    assert f"({new_ip})" in out
    assert host.docker("inspect", "-f", "{{.HostConfig.Links}}", "c2").stdout.strip() == "[c1:db]"
