/// Which keys of the create and exec bodies berth honours; everything else must be zero
/// (`RequestFields`). Keys other parts of berth act on are listed with the part's name.
public enum CreateRequestRules {
    static let endpointSettings: FieldRule = .object([
        "IPAMConfig": .object(["IPv4Address": .honoured, "IPv6Address": .honoured, "LinkLocalIPs": .honoured]),
        "Links": .honoured, "Aliases": .honoured, "MacAddress": .honoured, "DriverOpts": .honoured,
        // NetworkID, EndpointID, Gateway, IPAddress, … are inspect's output: zero in a request.
    ])

    static let mount: FieldRule = .object([
        "Type": .honoured, "Source": .honoured, "Target": .honoured, "ReadOnly": .honoured,
        // Consistency matters on macOS only; Docker ignores it on Linux.
        "Consistency": .accepts([.string("default"), .string("consistent"), .string("cached"), .string("delegated")]),
        "BindOptions": .object(["Propagation": .honoured]),
        "TmpfsOptions": .object(["SizeBytes": .honoured, "Mode": .honoured]),
    ])

    static let hostConfig: FieldRule = .object([
        "NetworkMode": .honoured, "Links": .honoured, "Dns": .honoured, "DnsSearch": .honoured, "DnsOptions": .honoured,
        "ExtraHosts": .honoured, "AutoRemove": .honoured, "PortBindings": .honoured, "PublishAllPorts": .honoured,
        "Binds": .honoured, "Mounts": .eachElement(mount), "Tmpfs": .honoured, "Init": .honoured,
        "ReadonlyRootfs": .honoured,
        "ConsoleSize": .honoured,  // stdio
        "RestartPolicy": .honoured, "PidMode": .honoured,  // lifecycle
        // What berth does anyway: its own log file, a private IPC namespace, the host's cgroup
        // namespace, Linux's only isolation; -1 is "no limit" for these.
        "LogConfig": .object(["Type": .accepts([.string("json-file")])]),
        "IpcMode": .accepts([.string("private")]),
        "CgroupnsMode": .accepts([.string("host")]),
        "Isolation": .accepts([.string("default")]),
        "MemorySwappiness": .accepts([.number(-1)]),
        "MemorySwap": .accepts([.number(-1)]),
        "PidsLimit": .accepts([.number(-1)]),
    ])

    /// `POST /containers/create`: Config's keys at the top level, then HostConfig and NetworkingConfig.
    public static let create: FieldRule = .object([
        "Hostname": .honoured, "Domainname": .honoured, "User": .honoured, "Env": .honoured, "Cmd": .honoured,
        "Image": .honoured, "WorkingDir": .honoured, "Entrypoint": .honoured, "Labels": .honoured,
        "ExposedPorts": .honoured, "MacAddress": .honoured, "StopSignal": .honoured, "StopTimeout": .honoured,
        // Clients list bind and tmpfs targets here too; create refuses any other (an anonymous volume).
        "Volumes": .honoured,
        "AttachStdin": .honoured, "AttachStdout": .honoured, "AttachStderr": .honoured, "Tty": .honoured,
        "OpenStdin": .honoured, "StdinOnce": .honoured,  // stdio
        // --no-healthcheck (compose: `disable: true`) asks for what berth does: no health check.
        "Healthcheck": .object(["Test": .accepts([.array([.string("NONE")])])]),
        "HostConfig": hostConfig,
        "NetworkingConfig": .object(["EndpointsConfig": .eachValue(endpointSettings)]),
    ])

    /// `POST /containers/{id}/exec`.
    public static let exec: FieldRule = .object([
        "Cmd": .honoured, "Env": .honoured, "WorkingDir": .honoured, "User": .honoured,
        "AttachStdin": .honoured, "AttachStdout": .honoured, "AttachStderr": .honoured, "Tty": .honoured,
        "ConsoleSize": .honoured, "Detach": .honoured, "DetachKeys": .honoured,  // stdio
        // docker-py repeats the path's container in the body.
        "Container": .honoured,
    ])

    /// The docker CLI option behind a key, for the refusal's message.
    public static let options: [String: String] = [
        "Healthcheck.Test": "--health-cmd", "Healthcheck.Interval": "--health-interval",
        "Healthcheck.Timeout": "--health-timeout", "Healthcheck.Retries": "--health-retries",
        "Healthcheck.StartPeriod": "--health-start-period", "Healthcheck.StartInterval": "--health-start-interval", "NetworkDisabled": "--network none", "OnBuild": "ONBUILD", "Shell": "SHELL",
        "HostConfig.Memory": "--memory", "HostConfig.MemoryReservation": "--memory-reservation",
        "HostConfig.MemorySwap": "--memory-swap", "HostConfig.MemorySwappiness": "--memory-swappiness",
        "HostConfig.KernelMemory": "--kernel-memory", "HostConfig.OomKillDisable": "--oom-kill-disable",
        "HostConfig.OomScoreAdj": "--oom-score-adj", "HostConfig.NanoCpus": "--cpus", "HostConfig.CpuShares": "--cpu-shares",
        "HostConfig.CpuPeriod": "--cpu-period", "HostConfig.CpuQuota": "--cpu-quota", "HostConfig.CpusetCpus": "--cpuset-cpus",
        "HostConfig.CpusetMems": "--cpuset-mems", "HostConfig.CpuRealtimePeriod": "--cpu-rt-period",
        "HostConfig.CpuRealtimeRuntime": "--cpu-rt-runtime", "HostConfig.BlkioWeight": "--blkio-weight",
        "HostConfig.BlkioWeightDevice": "--blkio-weight-device", "HostConfig.BlkioDeviceReadBps": "--device-read-bps",
        "HostConfig.BlkioDeviceWriteBps": "--device-write-bps", "HostConfig.BlkioDeviceReadIOps": "--device-read-iops",
        "HostConfig.BlkioDeviceWriteIOps": "--device-write-iops", "HostConfig.PidsLimit": "--pids-limit",
        "HostConfig.Ulimits": "--ulimit", "HostConfig.CapAdd": "--cap-add", "HostConfig.CapDrop": "--cap-drop",
        "HostConfig.Privileged": "--privileged", "HostConfig.Devices": "--device",
        "HostConfig.DeviceCgroupRules": "--device-cgroup-rule", "HostConfig.DeviceRequests": "--gpus",
        "HostConfig.SecurityOpt": "--security-opt", "HostConfig.GroupAdd": "--group-add",
        "HostConfig.IpcMode": "--ipc", "HostConfig.UTSMode": "--uts", "HostConfig.UsernsMode": "--userns",
        "HostConfig.CgroupnsMode": "--cgroupns", "HostConfig.CgroupParent": "--cgroup-parent",
        "HostConfig.Cgroup": "--cgroup", "HostConfig.ShmSize": "--shm-size", "HostConfig.Sysctls": "--sysctl",
        "HostConfig.Runtime": "--runtime", "HostConfig.Isolation": "--isolation", "HostConfig.VolumesFrom": "--volumes-from",
        "HostConfig.VolumeDriver": "--volume-driver", "HostConfig.StorageOpt": "--storage-opt",
        "HostConfig.LogConfig.Type": "--log-driver", "HostConfig.LogConfig.Config": "--log-opt",
        "HostConfig.ContainerIDFile": "--cidfile", "HostConfig.MaskedPaths": "--security-opt systempaths",
        "HostConfig.ReadonlyPaths": "--security-opt systempaths", "HostConfig.Annotations": "--annotation",
        "HostConfig.Mounts.VolumeOptions": "--mount type=volume", "HostConfig.Mounts.BindOptions.NonRecursive":
            "--mount bind-recursive", "HostConfig.Mounts.BindOptions.CreateMountpoint": "--mount bind-create-src",
        "HostConfig.Mounts.TmpfsOptions.Options": "--mount tmpfs-options",
        "HostConfig.IOMaximumIOps": "--io-maxiops", "HostConfig.IOMaximumBandwidth": "--io-maxbandwidth",
        "Privileged": "--privileged",
    ]
}
