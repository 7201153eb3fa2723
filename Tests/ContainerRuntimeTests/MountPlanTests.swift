import ContainerRuntime
import Testing

@Suite struct MountPlanTests {
    let plan = MountPlan(needed: ["/var/lib/berth", "/run/berth", "/usr/sbin/runc"], hidden: ["/run/berth/netns"])

    @Test func keepsTheRootSystemTreesAndWhatHoldsTheDaemonsDirectories() {
        let kept = ["/", "/proc", "/proc/sys/fs/binfmt_misc", "/sys", "/sys/fs/cgroup", "/sys/fs/cgroup/memory",
                    "/dev", "/dev/pts", "/dev/shm", "/usr", "/etc/resolv.conf", "/var", "/var/lib", "/run",
                    "/run/berth", "/var/lib/berth/images"]
        #expect(plan.mountsToDetach(kept) == [])
    }

    @Test func detachesOtherToolsMountsAndTheDaemonsNamespaceFiles() {
        let mounts = ["/", "/run", "/run/docker/netns/1a2b", "/var/lib/docker/overlay2/abc/merged", "/home",
                      "/tmp/bench/netavark/ns0", "/run/berth/netns", "/run/berth/netns/spare-1", "/run/netns/x",
                      "/var/lib/berthx", "/media/usb"]
        #expect(plan.mountsToDetach(mounts) == [
            "/var/lib/docker/overlay2/abc/merged", "/run/berth/netns/spare-1", "/tmp/bench/netavark/ns0",
            "/run/docker/netns/1a2b", "/run/berth/netns", "/var/lib/berthx", "/run/netns/x", "/media/usb", "/home",
        ])
    }

    @Test func deepestFirstSoChildrenGoBeforeTheirParents() {
        let detached = plan.mountsToDetach(["/mnt", "/mnt/a", "/mnt/a/b"])
        #expect(detached == ["/mnt/a/b", "/mnt/a", "/mnt"])
    }

    @Test func trailingSlashesDoNotMatter() {
        let slashed = MountPlan(needed: ["/srv/berth/"], keptTrees: [], hidden: ["/srv/berth/exec/netns/"])
        #expect(slashed.mountsToDetach(["/", "/srv", "/srv/berth/exec/netns/a", "/srv/other"])
            == ["/srv/berth/exec/netns/a", "/srv/other"])
    }
}
