"""Debian's docker-compose 1.29 drives a three-service project on two networks through
berthd, step by step, the way its users run it; `down` leaves nothing behind."""
import os
import shutil
import time

import pytest

from harness import run, wait_until

pytestmark = pytest.mark.skipif(shutil.which("docker-compose") is None,
                                reason="docker-compose (Debian's 1.29) is not installed")

PROJECT_FILE = """version: "2.4"
services:
  web:
    image: busybox
    command: sh -c 'echo web ready; echo hello-from-web > /www/index.html; exec httpd -f -p 80 -h /www'
    working_dir: /
    tmpfs: /www
    ports:
      - "8080:80"
    networks: [front, back]
  api:
    image: busybox
    command: sh -c 'echo api ready; exec sleep 600'
    networks: [back]
  db:
    image: busybox
    command: sh -c 'echo db ready; exec sleep 600'
    networks:
      back:
        aliases: [database]
networks:
  front: {}
  back: {}
"""


class Project:
    def __init__(self, host, name="shop"):
        self.host = host
        self.name = name
        self.dir = os.path.join(host.dir, "project-" + name)
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "docker-compose.yml"), "w") as handle:
            handle.write(PROJECT_FILE)

    def __call__(self, *args, check=True, timeout=120, stdin=None):
        env = self.host.env()
        env["DOCKER_HOST"] = f"unix://{self.host.socket}"
        env["COMPOSE_HTTP_TIMEOUT"] = "60"
        return run(["docker-compose", "--ansi", "never", "-p", self.name, *args], check=check, timeout=timeout,
                   env=env, cwd=self.dir, input=stdin)

    def containers(self):
        """name -> (id, state) for the project's containers, as the daemon lists them."""
        listed = self.host.docker("ps", "-a", "--filter", f"label=com.docker.compose.project={self.name}",
                                  "--format", "{{.Names}} {{.ID}} {{.State}}").stdout.split("\n")
        return {name: (cid, state) for name, cid, state in (line.split() for line in listed if line.strip())}

    def running(self):
        return sorted(name for name, (_, state) in self.containers().items() if state == "running")


def fetch_web(host):
    """The published port answers from the test host namespace."""
    return host.sh("curl -s -m 3 http://127.0.0.1:8080/", check=False)


def test_compose_project_lifecycle(host):
    project = Project(host)
    links_before = sorted(link["ifname"] for link in host.links())
    services = ["shop_api_1", "shop_db_1", "shop_web_1"]

    # up -d: three services on two networks, the published port answers.
    project("up", "-d")
    assert project.running() == services
    networks = host.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert {"shop_front", "shop_back"} <= set(networks)
    wait_until(lambda: "hello-from-web" in fetch_web(host).stdout, timeout=10, message="published port answers")
    first_ids = {name: cid for name, (cid, _) in project.containers().items()}

    # A second up -d with nothing changed recreates nothing.
    second = project("up", "-d")
    assert "is up-to-date" in second.stderr, second.stderr
    assert {name: cid for name, (cid, _) in project.containers().items()} == first_ids

    # ps lists the services as Up.
    listed = project("ps").stdout
    for name in services:
        line = next(line for line in listed.splitlines() if line.startswith(name))
        assert "Up" in line, listed

    # logs prints each service's output, prefixed with its service and number.
    logs = project("logs", "--no-color").stdout
    for service in ("web", "api", "db"):
        assert any(line.startswith(f"{service}_1 ") and f"{service} ready" in line
                   for line in logs.splitlines()), logs

    # exec: names resolve on the shared network (service name and alias), not across networks.
    assert "hello-from-web" in project("exec", "-T", "api", "timeout", "5", "wget", "-qO-", "http://web/").stdout
    assert project("exec", "-T", "web", "ping", "-c", "1", "-W", "2", "database").returncode == 0
    status = project("exec", "-T", "api", "sh", "-c", "exit 7", check=False)
    assert status.returncode == 7

    # port: the published mapping.
    assert project("port", "web", "80").stdout.strip().endswith(":8080")

    # restart: the same containers start again and still serve.
    started = {name: host.inspect(name)["State"]["StartedAt"] for name in services}
    project("restart", "-t", "1")
    assert project.running() == services
    for name in services:
        assert host.inspect(name)["State"]["StartedAt"] != started[name]
    wait_until(lambda: "hello-from-web" in fetch_web(host).stdout, timeout=10, message="web serves after restart")

    # up --scale: a second api container, reachable by the service name.
    project("up", "-d", "--scale", "api=2")
    assert project.running() == ["shop_api_1", "shop_api_2", "shop_db_1", "shop_web_1"]
    api2 = host.inspect("shop_api_2")["NetworkSettings"]["Networks"]["shop_back"]["IPAddress"]
    answer = project("exec", "-T", "db", "nslookup", "api", check=False).stdout
    assert api2 in answer, answer

    # up --force-recreate: new containers under the same names, the old ones gone.
    project("up", "-d", "--force-recreate", "--scale", "api=2")
    recreated = project.containers()
    assert sorted(recreated) == ["shop_api_1", "shop_api_2", "shop_db_1", "shop_web_1"]
    for name in services:
        assert recreated[name][0] != first_ids[name]
        assert recreated[name][1] == "running"
    wait_until(lambda: "hello-from-web" in fetch_web(host).stdout, timeout=10, message="web serves after recreate")

    # run --rm: a one-off container, attached, that is gone afterwards.
    one_off = project("run", "--rm", "-T", "api", "sh", "-c", "echo one-off; nslookup db >/dev/null && echo found-db")
    assert "one-off" in one_off.stdout and "found-db" in one_off.stdout, one_off.stdout
    assert sorted(project.containers()) == ["shop_api_1", "shop_api_2", "shop_db_1", "shop_web_1"]

    # pause / unpause: the paused service stops answering, then answers again.
    project("pause", "web")
    assert host.inspect("shop_web_1")["State"]["Paused"] is True
    assert "hello-from-web" not in host.sh("curl -s -m 1 http://127.0.0.1:8080/", check=False).stdout
    project("unpause", "web")
    assert host.inspect("shop_web_1")["State"]["Paused"] is False
    wait_until(lambda: "hello-from-web" in fetch_web(host).stdout, timeout=10, message="web serves after unpause")

    # down: no container, no network, no bridge or veth left.
    project("down", "-t", "1")
    assert project.containers() == {}
    networks = host.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert not any(name.startswith("shop_") for name in networks), networks
    wait_until(lambda: sorted(link["ifname"] for link in host.links()) == links_before, timeout=10,
               message="every bridge and veth of the project removed")
