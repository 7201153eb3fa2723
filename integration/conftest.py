import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Host, busybox_image  # noqa: E402


def pytest_configure(config):
    if os.geteuid() != 0:
        pytest.exit("the integration tests need root (network namespaces, mounts, runc)", returncode=2)


@pytest.fixture
def make_host():
    """Creates hosts on demand; all of them are cleaned up after the test, pass or fail."""
    hosts = []

    def factory(start=True, image=True, **kw):
        host = Host(**kw)
        hosts.append(host)
        if start:
            host.start()
            if image:
                host.import_busybox()
        return host

    yield factory
    for host in hosts:
        host.cleanup()


@pytest.fixture
def host(make_host):
    """A test host with berthd running and the busybox image imported."""
    return make_host()


@pytest.fixture(scope="session", autouse=True)
def _image():
    busybox_image()
