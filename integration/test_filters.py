"""Safety defect 5: list and prune filters are applied or refused (400), never ignored.

docker-compose finds its project's containers with label filters; a daemon that ignores
them hands compose every container on the host (an unrelated `web` included)."""
import json
import os
import shutil
import time
import urllib.parse

import pytest
from harness import fails, run

PROJECT = "com.docker.compose.project"
ONEOFF = "com.docker.compose.oneoff"
SERVICE = "com.docker.compose.service"


def query(filters, **params):
    params["filters"] = json.dumps(filters)
    return urllib.parse.urlencode(params)


def names(host, *args):
    out = host.docker("ps", "--format", "{{.Names}}", *args).stdout.split()
    return sorted(out)


def api_names(host, path, filters, **params):
    status, body = host.api("GET", f"{path}?{query(filters, **params)}")
    assert status == 200, body
    return sorted(item["Names"][0].lstrip("/") for item in body)


def make_projects(host):
    for project in ("a", "b"):
        for service in ("web", "db"):
            host.berth("run", "-d", "--name", f"{project}_{service}_1", "--label", f"{PROJECT}={project}",
                       "--label", f"{SERVICE}={service}", "--label", f"{ONEOFF}=False",
                       "--label", "com.docker.compose.container-number=1", "busybox", "sleep", "600")
    host.berth("run", "-d", "--name", "web", "busybox", "sleep", "600")


def test_compose_label_filters_never_reach_strangers(host):
    make_projects(host)
    assert names(host, "--filter", f"label={PROJECT}=a") == ["a_db_1", "a_web_1"]
    assert names(host, "--filter", f"label={PROJECT}") == ["a_db_1", "a_web_1", "b_db_1", "b_web_1"]
    # Several label filters must all hold (Docker ANDs label terms): what compose sends.
    compose = {"label": [f"{PROJECT}=a", f"{ONEOFF}=False", f"{SERVICE}=web"]}
    assert api_names(host, "/containers/json", compose, all=1) == ["a_web_1"]
    # The old map form of the same filters.
    legacy = {"label": {f"{PROJECT}=b": True, f"{ONEOFF}=False": True}}
    assert api_names(host, "/containers/json", legacy, all=1) == ["b_db_1", "b_web_1"]
    assert api_names(host, "/containers/json", {"label": [f"{PROJECT}=c"]}, all=1) == []
    # What `docker-compose -p a down` would stop and remove: only project a.
    for name in api_names(host, "/containers/json", {"label": [f"{PROJECT}=a", f"{ONEOFF}=False"]}, all=1):
        host.docker("rm", "-f", name)
    assert names(host, "-a") == ["b_db_1", "b_web_1", "web"]


def test_container_filters(host):
    host.berth("network", "create", "bf-net")
    host.berth("run", "-d", "--name", "one", "-p", "8080:80", "busybox", "sleep", "600")
    time.sleep(1.1)
    host.berth("run", "-d", "--name", "two", "--network", "bf-net", "busybox", "sleep", "600")
    time.sleep(1.1)
    host.berth("run", "--name", "ended", "busybox", "sh", "-c", "exit 3", check=False)
    host.berth("create", "--name", "fresh", "busybox", "true")
    one_id = host.inspect("one")["Id"]

    assert names(host, "-a", "--filter", "name=one") == ["one"]
    assert names(host, "-a", "--filter", "name=^/?tw") == ["two"]
    assert names(host, "-a", "--filter", "name=one", "--filter", "name=two") == ["one", "two"]
    assert names(host, "-a", "--filter", f"id={one_id[:10]}") == ["one"]
    assert names(host, "--filter", "status=exited") == ["ended"]
    assert names(host, "--filter", "status=created") == ["fresh"]
    assert names(host, "-a", "--filter", "exited=3") == ["ended"]
    assert names(host, "-a", "--filter", "exited=0") == []
    assert names(host, "--filter", "network=bf-net") == ["two"]
    assert names(host, "--filter", "network=bridge") == ["one"]
    assert names(host, "-a", "--filter", "ancestor=busybox") == ["ended", "fresh", "one", "two"]
    assert names(host, "-a", "--filter", "ancestor=nosuchimage") == []
    # publish names the host port (Docker's rule), expose the container's.
    assert names(host, "-a", "--filter", "publish=8080") == ["one"]
    assert names(host, "-a", "--filter", "publish=80") == []
    assert names(host, "-a", "--filter", "publish=8080/udp") == []
    assert names(host, "-a", "--filter", "expose=80/tcp") == ["one"]
    assert names(host, "-a", "--filter", "expose=79-81") == ["one"]
    assert names(host, "-a", "--filter", "before=two") == ["one"]
    assert names(host, "-a", "--filter", "since=two") == ["ended", "fresh"]
    assert names(host, "-a", "--filter", "health=none") == ["ended", "fresh", "one", "two"]
    assert names(host, "-a", "--filter", "health=healthy") == []
    assert names(host, "-a", "--filter", "is-task=true") == []
    assert names(host, "-a", "--filter", "volume=/data") == []
    # Different keys AND.
    assert names(host, "-a", "--filter", "name=o", "--filter", "status=running") == ["one", "two"]
    assert names(host, "-a", "--filter", "name=one", "--filter", "status=exited") == []
    assert len(names(host, "-n", "2")) == 2

    for bad in ("bogus=1", "status=sleeping", "exited=x", "health=meh", "is-task=maybe", "publish=abc",
                "isolation=hyperv", "label=", "before=nosuchcontainer"):
        result = host.docker("ps", "-a", "--filter", bad, check=False)
        assert result.returncode != 0, bad
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (bad, result.stderr)
    status, body = host.api("GET", "/containers/json?" + query({"bogus": ["1"]}))
    assert status == 400 and "invalid filter 'bogus'" in body["message"]
    status, body = host.api("GET", "/containers/json?filters=%7Bnot-json")
    assert status == 400
    status, body = host.api("GET", "/containers/json?" + query({"name": "one"}))
    assert status == 400
    # size is computed, not accepted and left out: the container's changes, then with its image.
    host.berth("exec", "one", "sh", "-c", "head -c 50000 /dev/zero > /grown")
    status, body = host.api("GET", "/containers/json?size=1&" + query({"name": ["^one$"]}))
    assert status == 200 and len(body) == 1, body
    assert body[0]["SizeRw"] >= 50000 and body[0]["SizeRootFs"] > body[0]["SizeRw"], body
    status, body = host.api("GET", "/containers/json?" + query({"name": ["^one$"]}))
    assert "SizeRw" not in body[0]
    status, body = host.api("GET", "/containers/json?limit=x")
    assert status == 400 and "limit" in body["message"]


def test_network_and_image_filters(host):
    host.berth("network", "create", "--label", "team=red", "bf-red")
    host.berth("network", "create", "bf-blue")
    host.berth("run", "-d", "--name", "user", "--network", "bf-blue", "busybox", "sleep", "600")

    def networks(*filters):
        args = [a for f in filters for a in ("--filter", f)]
        return sorted(host.docker("network", "ls", "--format", "{{.Name}}", *args).stdout.split())

    assert networks("label=team=red") == ["bf-red"]
    assert networks("label=team=blue") == []
    assert networks("name=bf-") == ["bf-blue", "bf-red"]
    assert networks("type=builtin") == ["bridge", "host", "none"]
    assert networks("dangling=true") == ["bf-red"]
    assert networks("driver=bridge", "name=bf-") == ["bf-blue", "bf-red"]
    assert networks("scope=swarm") == []
    for bad in ("bogus=1", "dangling=maybe", "type=odd", "scope=planet"):
        result = host.docker("network", "ls", "--filter", bad, check=False)
        assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1, bad

    def images(*filters):
        args = [a for f in filters for a in ("--filter", f)]
        return sorted(host.docker("images", "--format", "{{.Repository}}:{{.Tag}}", *args).stdout.split())

    assert images("reference=busybox") == ["busybox:latest"]
    assert images("reference=busy*") == ["busybox:latest"]
    assert images("reference=other") == []
    assert images("dangling=true") == []
    assert images("label=maintainer") == []
    assert images("before=busybox") == []
    assert images("until=2000-01-01") == []
    for bad in ("bogus=1", "dangling=maybe", "until=yesterday"):
        result = host.docker("images", "--filter", bad, check=False)
        assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1, bad


def test_prune_applies_label_filters(host):
    host.berth("network", "create", "--label", "keep=yes", "bf-keep")
    host.berth("network", "create", "--label", "keep=no", "bf-drop")
    host.berth("network", "create", "bf-plain")
    status, body = host.api("POST", "/networks/prune?" + query({"label": ["keep=no"]}))
    assert status == 200 and body["NetworksDeleted"] == ["bf-drop"], body
    status, body = host.api("POST", "/networks/prune?" + query({"label!": ["keep"]}))
    assert status == 200 and body["NetworksDeleted"] == ["bf-plain"], body
    status, body = host.api("POST", "/networks/prune?" + query({"until": ["2000-01-01T00:00:00Z"]}))
    assert status == 200 and body["NetworksDeleted"] == [], body
    status, body = host.api("POST", "/networks/prune?" + query({"bogus": ["1"]}))
    assert status == 400 and "invalid filter 'bogus'" in body["message"]
    assert "bf-keep" in host.docker("network", "ls").stdout

    host.berth("run", "--name", "gone", "--label", "tier=tmp", "busybox", "true")
    host.berth("run", "--name", "kept", "busybox", "true")
    result = host.docker("container", "prune", "-f", "--filter", "label=tier=tmp")
    assert result.returncode == 0
    assert names(host, "-a") == ["kept"]
    # Images: busybox is tagged and in use; prune -a with a label filter matches nothing
    # (berth's images carry no labels), and an unknown key is refused.
    result = host.docker("image", "prune", "-a", "-f", "--filter", "label=x")
    assert result.returncode == 0
    assert "busybox" in host.docker("images").stdout
    status, body = host.api("POST", "/images/prune?" + query({"bogus": ["1"]}))
    assert status == 400 and "invalid filter 'bogus'" in body["message"]
    status, body = host.api("POST", "/containers/prune?" + query({"bogus": ["1"]}))
    assert status == 400 and "invalid filter 'bogus'" in body["message"]
    assert names(host, "-a") == ["kept"]


def test_berth_ps_passes_filters(host):
    make_projects(host)
    out = host.berth("ps", "--format", "{{.Names}}", "--filter", f"label={PROJECT}=b").stdout.split()
    assert sorted(out) == ["b_db_1", "b_web_1"]
    assert "invalid filter 'bogus'" in fails(host, "ps", "--filter", "bogus=1")
    host.berth("network", "create", "--label", "tier=tmp", "bf-tmp")
    host.berth("network", "create", "bf-stay")
    assert host.berth("network", "prune", "-f", "--filter", "label=tier=tmp").stdout.split() == ["Deleted", "Networks:", "bf-tmp"]
    assert "bf-stay" in host.berth("network", "ls").stdout
    assert "invalid filter 'bogus'" in fails(host, "network", "prune", "--filter", "bogus=1")


COMPOSE_FILE = """version: "2.4"
services:
  web:
    image: busybox
    command: sleep 600
  db:
    image: busybox
    command: sleep 600
"""


def compose(host, project_dir, *args, check=True):
    env = host.env()
    env["DOCKER_HOST"] = f"unix://{host.socket}"
    return run(["docker-compose", "--no-ansi", "-p", "a", *args], check=check, timeout=120, env=env, cwd=project_dir)


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (Debian's 1.29) is not installed")
def test_docker_compose_never_touches_a_stranger(host):
    make_projects(host)
    project_dir = os.path.join(host.dir, "project-a")
    os.makedirs(project_dir)
    with open(os.path.join(project_dir, "docker-compose.yml"), "w") as handle:
        handle.write(COMPOSE_FILE)
    listed = compose(host, project_dir, "ps", "-q").stdout.split()
    ids = {host.inspect(name)["Id"] for name in ("a_web_1", "a_db_1")}
    assert set(listed) == ids, listed
    compose(host, project_dir, "down", "-t", "1")
    assert names(host, "-a") == ["b_db_1", "b_web_1", "web"]
