"""Issue 14: docker run's options beyond networking work through the real docker CLI
(mounts, tmpfs, user, workdir, add-host, domainname, init, stop signal and timeout), and
the ones berth does not honour are refused naming the option, leaving no container."""
import json
import os
import time

from harness import run, wait_until


def run_d(host, *args):
    return host.docker("run", "-d", *args).stdout.strip()


def exec_out(host, name, *command, user=None):
    args = ["exec"] + (["-u", user] if user else []) + [name, *command]
    return host.docker(*args).stdout.strip()


def test_binds_and_tmpfs(host):
    shared = os.path.join(host.dir, "shared")
    os.makedirs(shared)
    missing = os.path.join(host.dir, "made-by-v")
    run_d(host, "--name", "m", "-v", f"{shared}:/data", "-v", f"{missing}:/made", "-v", f"{shared}:/ro:ro",
          "--tmpfs", "/scratch:size=1m", "--mount", "type=tmpfs,target=/t2,tmpfs-size=2097152",
          "--mount", f"type=bind,source={shared},target=/m,readonly", "busybox", "sleep", "600")
    exec_out(host, "m", "sh", "-c", "echo hello > /data/from-container")
    with open(os.path.join(shared, "from-container")) as f:
        assert f.read() == "hello\n"
    assert os.path.isdir(missing), "-v makes a missing host directory"
    assert exec_out(host, "m", "cat", "/ro/from-container") == "hello"
    refused = host.docker("exec", "m", "sh", "-c", "echo x > /ro/nope", check=False)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    assert host.docker("exec", "m", "touch", "/m/nope", check=False).returncode != 0
    mounts = exec_out(host, "m", "cat", "/proc/mounts")
    scratch = [line for line in mounts.splitlines() if " /scratch " in line]
    assert scratch and scratch[0].startswith("tmpfs /scratch tmpfs") and "size=1024k" in scratch[0]
    assert any(line.startswith("tmpfs /t2 tmpfs") and "size=2048k" in line for line in mounts.splitlines())

    inspect = host.inspect("m")
    by_destination = {m["Destination"]: m for m in inspect["Mounts"]}
    assert by_destination["/data"] == {"Type": "bind", "Source": shared, "Destination": "/data", "Mode": "",
                                       "RW": True, "Propagation": "rprivate"}
    assert by_destination["/ro"]["RW"] is False and by_destination["/ro"]["Mode"] == "ro"
    assert by_destination["/m"]["RW"] is False and by_destination["/t2"]["Type"] == "tmpfs"
    assert "/scratch" not in by_destination  # Docker lists --tmpfs in HostConfig only
    assert inspect["HostConfig"]["Tmpfs"] == {"/scratch": "size=1m"}
    listed = json.loads(host.docker("ps", "--format", "{{json .}}", "--no-trunc").stdout.splitlines()[0])
    assert shared in listed["Mounts"] or "/data" in listed["Mounts"]


def test_bind_from_a_mount_made_after_berthd_started(host):
    # berthd's launch namespace does not have this tmpfs: the source is copied in for the start.
    late = os.path.join(host.dir, "late")
    os.makedirs(late)
    run(["mount", "-t", "tmpfs", "-o", "size=1m", "berth-test-late", late])
    try:
        with open(os.path.join(late, "from-host"), "w") as f:
            f.write("on the late mount\n")
        run_d(host, "--name", "late", "-v", f"{late}/:/late", "busybox", "sleep", "600")
        assert exec_out(host, "late", "cat", "/late/from-host") == "on the late mount"
        exec_out(host, "late", "sh", "-c", "echo back > /late/from-container")
        with open(os.path.join(late, "from-container")) as f:
            assert f.read() == "back\n"
        staging = os.path.join(host.root, "containers", host.inspect("late")["Id"], "binds")
        assert os.listdir(staging) == [], "the staged copies are detached once the container runs"
        host.docker("rm", "-f", "late")
    finally:
        run(["umount", "-l", late])


def test_mount_refusals_leave_nothing(host):
    absent = os.path.join(host.dir, "absent")
    result = host.docker("run", "-d", "--mount", f"type=bind,source={absent},target=/x", "busybox", "true", check=False)
    assert result.returncode != 0 and "bind source path does not exist" in result.stderr
    assert not os.path.exists(absent)
    result = host.docker("run", "-d", "-v", "named:/x", "busybox", "true", check=False)
    assert result.returncode != 0 and "berth has no volumes" in result.stderr
    result = host.docker("run", "-d", "-v", "/anon", "busybox", "true", check=False)
    assert result.returncode != 0 and "anonymous volume /anon" in result.stderr
    assert host.docker("ps", "-aq").stdout.strip() == ""


def test_user_and_exec_user(host):
    run_d(host, "--name", "nob", "--user", "nobody", "busybox", "sleep", "600")
    assert exec_out(host, "nob", "id", "-u") == "65534"
    run_d(host, "--name", "num", "--user", "1000:1000", "busybox", "sleep", "600")
    assert exec_out(host, "num", "id") .startswith("uid=1000 gid=1000")
    run_d(host, "--name", "root", "busybox", "sleep", "600")
    assert exec_out(host, "root", "id", "-u") == "0"
    assert exec_out(host, "root", "id", "-u", user="nobody") == "65534"
    assert exec_out(host, "root", "id", "-g", user="1234:4321") == "4321"
    result = host.docker("run", "-d", "--name", "ghost", "--user", "ghost", "busybox", "sleep", "600", check=False)
    assert result.returncode != 0 and "unable to find user ghost" in result.stderr
    result = host.docker("exec", "-u", "ghost", "root", "id", check=False)
    assert result.returncode != 0 and "unable to find user ghost" in (result.stderr + result.stdout)


def test_workdir_hosts_domain_and_init(host):
    env_file = os.path.join(host.dir, "env")
    with open(env_file, "w") as f:
        f.write("FROM_FILE=yes\n# a comment\nSPACED=a b\n")
    run_d(host, "--name", "w", "-e", "GIVEN=1", "--env-file", env_file,
          "--workdir", "/srv/app", "--add-host", "db:10.1.2.3", "--add-host", "gw:host-gateway",
          "--hostname", "web", "--domainname", "example.org", "--init", "busybox", "sleep", "600")
    assert exec_out(host, "w", "pwd") == "/srv/app"
    environment = exec_out(host, "w", "env").splitlines()
    assert "GIVEN=1" in environment and "FROM_FILE=yes" in environment and "SPACED=a b" in environment
    hosts = exec_out(host, "w", "cat", "/etc/hosts")
    gateway = json.loads(host.docker("network", "inspect", "bridge").stdout)[0]["IPAM"]["Config"][0]["Gateway"]
    assert "10.1.2.3\tdb" in hosts and f"{gateway}\tgw" in hosts
    assert exec_out(host, "w", "hostname", "-f") == "web.example.org"
    assert exec_out(host, "w", "cat", "/proc/sys/kernel/domainname") == "example.org"
    assert exec_out(host, "w", "cat", "/proc/1/cmdline").split("\0")[0] == "/sbin/docker-init"
    assert "sleep" in exec_out(host, "w", "ps")


def test_read_only_root(host):
    run_d(host, "--name", "r", "--read-only", "--tmpfs", "/tmp", "busybox", "sleep", "600")
    refused = host.docker("exec", "r", "touch", "/etc/nope", check=False)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    host.docker("exec", "r", "touch", "/tmp/fine")
    assert host.inspect("r")["HostConfig"]["ReadonlyRootfs"] is True


def test_docker_py_run_with_options(host):
    import docker
    shared = os.path.join(host.dir, "py-shared")
    os.makedirs(shared)
    os.chmod(shared, 0o777)  # the container's user is nobody
    client = docker.DockerClient(base_url=f"unix://{host.socket}", version="1.41")
    try:
        container = client.containers.run(
            "busybox", ["sh", "-c", "id -u > /out/uid; pwd >> /out/uid; sleep 600"], detach=True, name="py",
            volumes={shared: {"bind": "/out", "mode": "rw"}}, user="nobody", working_dir="/w",
            extra_hosts={"db": "10.3.3.3"}, tmpfs={"/scratch": "size=1m"}, init=True, stop_signal="USR1")
        wait_until(lambda: os.path.exists(os.path.join(shared, "uid")) and
                   open(os.path.join(shared, "uid")).read().count("\n") == 2, message="the container's output")
        assert open(os.path.join(shared, "uid")).read() == "65534\n/w\n"
        assert container.attrs["Config"]["StopSignal"] == "USR1"
        with __import__("pytest").raises(docker.errors.APIError) as refused:
            client.containers.run("busybox", "true", detach=True, mem_limit="1g")
        assert "HostConfig.Memory (--memory)" in str(refused.value)
    finally:
        client.close()


def test_daemon_init_path_and_host_gateway_ip(make_host):
    host = make_host(extra_args=["--init-path", "/nonexistent/tini", "--host-gateway-ip", "192.0.2.99"])
    result = host.docker("run", "-d", "--init", "busybox", "sleep", "1", check=False)
    assert result.returncode != 0 and "--init" in result.stderr and "/nonexistent/tini" in result.stderr
    assert host.docker("ps", "-aq").stdout.strip() == ""
    run_d(host, "--name", "g", "--add-host", "gw:host-gateway", "busybox", "sleep", "600")
    assert "192.0.2.99\tgw" in exec_out(host, "g", "cat", "/etc/hosts")


def test_stop_signal_and_timeout(host):
    # The container exits 7 on USR1 only: SIGTERM would leave it running until the SIGKILL.
    run_d(host, "--name", "s", "--stop-signal", "USR1", "busybox", "sh", "-c",
          "trap 'exit 7' USR1; trap '' TERM; while true; do sleep 0.1; done")
    time.sleep(0.3)
    started = time.time()
    host.docker("stop", "s")
    assert time.time() - started < 5
    assert host.inspect("s")["State"]["ExitCode"] == 7
    run_d(host, "--name", "t", "--stop-timeout", "1", "busybox", "sh", "-c",
          "trap '' TERM; while true; do sleep 0.1; done")
    time.sleep(0.3)
    started = time.time()
    host.docker("stop", "t")
    assert time.time() - started < 8
    assert host.inspect("t")["State"]["ExitCode"] == 137
    # docker stop -s overrides the container's stop signal.
    run_d(host, "--name", "u", "--stop-signal", "USR1", "busybox", "sh", "-c",
          "trap 'exit 8' USR2; trap '' TERM USR1; while true; do sleep 0.1; done")
    time.sleep(0.3)
    host.docker("stop", "-s", "USR2", "u")
    assert host.inspect("u")["State"]["ExitCode"] == 8


def test_unsupported_options_are_refused_naming_them(host):
    for args, named in [(["--memory", "1g"], "--memory"), (["--cap-add", "NET_ADMIN"], "--cap-add"),
                        (["--privileged"], "--privileged"), (["--log-driver", "syslog"], "--log-driver"),
                        (["--cpus", "1"], "--cpus"), (["--ulimit", "nofile=10:10"], "--ulimit")]:
        result = host.docker("run", "-d", *args, "busybox", "sleep", "1", check=False)
        assert result.returncode != 0, args
        assert "berth does not support" in result.stderr and named in result.stderr, result.stderr
    assert host.docker("ps", "-aq").stdout.strip() == ""
    status, body = host.api("POST", "/containers/create", {"Image": "busybox", "Cmd": ["true"],
                                                          "HostConfig": {"ShmSize": 1 << 20}})
    assert status == 400 and body["message"] == "berth does not support HostConfig.ShmSize (--shm-size)"
    run_d(host, "--name", "e", "busybox", "sleep", "600")
    status, body = host.api("POST", "/containers/e/exec", {"Cmd": ["id"], "Privileged": True})
    assert status == 400 and "Privileged" in body["message"]
    # --no-healthcheck asks for what berth does anyway; --health-cmd is refused.
    run_d(host, "--name", "nh", "--no-healthcheck", "busybox", "sleep", "600")
    result = host.docker("run", "-d", "--health-cmd", "true", "busybox", "sleep", "1", check=False)
    assert result.returncode != 0 and "--health-cmd" in result.stderr


def test_compose_service_with_options(host):
    import subprocess
    project = os.path.join(host.dir, "proj")
    os.makedirs(project)
    with open(os.path.join(project, "docker-compose.yml"), "w") as f:
        f.write(f"""version: "3"
services:
  plain:
    image: busybox
    command: sleep 600
  opts:
    image: busybox
    command: sleep 600
    volumes: ["{host.dir}/compose-data:/d:ro"]
    user: nobody
    working_dir: /w
    extra_hosts: ["db:10.4.4.4"]
    init: true
    stop_signal: USR1
    tmpfs: ["/x"]
    domainname: example.org
""")
    env = dict(host.env(), DOCKER_HOST=f"unix://{host.socket}")

    def compose(*args):
        return subprocess.run(["docker-compose", *args], cwd=project, env=env, capture_output=True, text=True, timeout=120)

    up = compose("up", "-d")
    try:
        assert up.returncode == 0, up.stderr
        assert exec_out(host, "proj_opts_1", "id", "-u") == "65534"
        assert exec_out(host, "proj_opts_1", "pwd") == "/w"
        assert "10.4.4.4\tdb" in exec_out(host, "proj_opts_1", "cat", "/etc/hosts")
        assert os.path.isdir(os.path.join(host.dir, "compose-data"))
        assert host.inspect("proj_plain_1")["State"]["Running"] is True
    finally:
        down = compose("down")
    assert down.returncode == 0, down.stderr
    assert host.docker("ps", "-aq").stdout.strip() == ""
