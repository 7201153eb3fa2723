import BerthCore
import Foundation

/// Run defaults an image carries (the subset of Docker's image config that an
/// imported rootfs can have, set with `import --change`).
public struct ImageConfig: Codable, Sendable, Equatable {
    public var env: [String]
    public var cmd: [String]?
    public var entrypoint: [String]?
    public var workingDir: String?

    public init(env: [String] = [], cmd: [String]? = nil, entrypoint: [String]? = nil, workingDir: String? = nil) {
        self.env = env
        self.cmd = cmd
        self.entrypoint = entrypoint
        self.workingDir = workingDir
    }
}

/// One stored image: persisted as image.json next to its rootfs directory.
public struct ImageRecord: Codable, Sendable, Equatable {
    /// "sha256:" + hex SHA-256 of the imported tarball.
    public var id: String
    /// "name:tag" strings; empty for a dangling image (shown as <none>:<none>).
    public var repoTags: [String]
    public var created: Date
    /// Bytes of the extracted rootfs (regular files and symlinks), as Docker's Size.
    public var size: Int64
    public var architecture: String
    public var os: String
    public var config: ImageConfig

    public init(id: String, repoTags: [String], created: Date, size: Int64,
                architecture: String = ImageRecord.hostArchitecture, os: String = "linux",
                config: ImageConfig = ImageConfig()) {
        self.id = id
        self.repoTags = repoTags
        self.created = created
        self.size = size
        self.architecture = architecture
        self.os = os
        self.config = config
    }

    /// The 64 hex digits without the algorithm prefix.
    public var hexID: String { id.hasPrefix("sha256:") ? String(id.dropFirst(7)) : id }
    /// The 12-digit form `docker images` prints.
    public var shortID: String { String(hexID.prefix(12)) }

    /// GOARCH spelling, which the Docker API uses.
    public static var hostArchitecture: String {
        #if arch(x86_64)
        "amd64"
        #elseif arch(arm64)
        "arm64"
        #else
        "unknown"
        #endif
    }
}

/// What `remove` did, in the order Docker's DELETE /images reports it.
public struct ImageRemoval: Sendable, Equatable {
    public var untagged: [String]
    /// Image IDs whose rootfs was deleted (empty when only a tag was removed).
    public var deleted: [String]
}
