import BerthCore
import Glibc

/// A failed netlink operation: what berth was doing, the errno (from the kernel's
/// NLMSG_ERROR or from a socket call), and the kernel's extended-ack explanation.
public struct NetlinkError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being done, e.g. "create veth berth1a2b".
    public var operation: String
    /// A positive errno value.
    public var errno: Int32
    /// NLMSGERR_ATTR_MSG from the kernel, when it said why.
    public var kernelMessage: String?
    /// Local context for failures that are not the kernel's answer (malformed reply,
    /// unexpected sequence number, socket call).
    public var detail: String?

    public init(operation: String, errno: Int32, kernelMessage: String? = nil, detail: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.kernelMessage = kernelMessage
        self.detail = detail
    }

    /// strerror(3) for `errno`.
    public var errorText: String { String(cString: strerror(errno)) }

    /// `netlink: create veth vethab12: File exists (kernel: "...")`.
    public var description: String {
        var text = "netlink: \(operation): \(errorText)"
        if let kernelMessage { text += " (kernel: \"\(kernelMessage)\")" }
        if let detail { text += " (\(detail))" }
        return text
    }

    /// The error as it crosses into the rest of berth: "already exists" and "no such
    /// object" become conflict / not-found so callers can branch on the code.
    public var asBerthError: BerthError {
        let code: ErrorCode = switch errno {
        case EEXIST, EBUSY, EADDRINUSE, ENOTEMPTY: .conflict
        case ENODEV, ESRCH, ENOENT, EADDRNOTAVAIL, ENXIO: .notFound
        default: .kernel
        }
        return BerthError(code, String(description.dropFirst("netlink: ".count)))
    }

    /// Whether the kernel said the object does not exist (ENODEV for links, ESRCH for
    /// routes, EADDRNOTAVAIL for addresses, ENOENT for neighbours), so callers tearing
    /// down can treat it as done.
    public var isNotFound: Bool { [ENODEV, ESRCH, ENOENT, EADDRNOTAVAIL].contains(errno) }

    /// Whether the kernel said the object already exists.
    public var isExists: Bool { errno == EEXIST }
}
