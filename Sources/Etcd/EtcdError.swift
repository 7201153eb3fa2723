import BerthCore

/// What went wrong talking to etcd, with the endpoint and gateway path it happened on and
/// what etcd said. `berthError` maps it onto the project's error type at the daemon boundary.
public enum EtcdError: Error, Sendable, CustomStringConvertible {
    /// A `--cluster-store` value that does not parse.
    case invalidEndpoint(String, reason: String)
    /// The caller asked for something etcd cannot express (empty key, bad TTL, ...).
    case invalidArgument(String)
    /// CA, certificate or key could not be loaded.
    case tls(String)
    /// No TCP (or TLS) connection could be made.
    case connectFailed(endpoint: EtcdEndpoint, reason: String)
    /// No complete answer within the client's timeout.
    case timedOut(endpoint: EtcdEndpoint, path: String, after: Duration)
    /// The connection broke while a request was in flight.
    case connectionLost(endpoint: EtcdEndpoint, path: String, reason: String)
    /// etcd answered with an error: HTTP status, gRPC code (14 = unavailable, 5 = not found,
    /// 11 = compacted, ...) and its message.
    case server(endpoint: EtcdEndpoint, path: String, httpStatus: Int, grpcCode: Int?, message: String)
    /// etcd answered something this client cannot read.
    case malformedResponse(endpoint: EtcdEndpoint, path: String, reason: String)
    /// Every endpoint failed; `attempts` holds the last failure on each.
    case unavailable(path: String, attempts: [EtcdError])
    /// The lease has expired or was revoked.
    case leaseNotFound(LeaseID)
    /// A kept-alive lease could not be refreshed before its TTL ran out.
    case leaseLost(LeaseID, reason: String)
    /// A read asked for a revision older than the last compaction.
    case compacted(endpoint: EtcdEndpoint, path: String, message: String)
    /// etcd cancelled a watch for a reason other than compaction.
    case watchCanceled(reason: String)

    public var description: String {
        switch self {
        case .invalidEndpoint(let text, let reason):
            return "invalid etcd endpoint \"\(text)\": \(reason)"
        case .invalidArgument(let why):
            return "invalid etcd request: \(why)"
        case .tls(let why):
            return "etcd TLS setup failed: \(why)"
        case .connectFailed(let endpoint, let reason):
            return "cannot connect to etcd at \(endpoint): \(reason)"
        case .timedOut(let endpoint, let path, let after):
            return "etcd at \(endpoint) did not answer \(path) within \(after)"
        case .connectionLost(let endpoint, let path, let reason):
            return "connection to etcd at \(endpoint) broke during \(path): \(reason)"
        case .server(let endpoint, let path, let status, let code, let message):
            let codeText = code.map { ", code \($0)" } ?? ""
            return "etcd at \(endpoint) refused \(path) (HTTP \(status)\(codeText)): \(message)"
        case .malformedResponse(let endpoint, let path, let reason):
            return "unreadable answer from etcd at \(endpoint) to \(path): \(reason)"
        case .unavailable(let path, let attempts):
            let each = attempts.map(\.description).joined(separator: "; ")
            return "no etcd endpoint answered \(path): \(each)"
        case .leaseNotFound(let lease):
            return "etcd lease \(lease) not found (expired or revoked)"
        case .leaseLost(let lease, let reason):
            return "etcd lease \(lease) lost: \(reason)"
        case .compacted(let endpoint, let path, let message):
            return "etcd at \(endpoint) compacted away the revision asked for by \(path): \(message)"
        case .watchCanceled(let reason):
            return "etcd cancelled the watch: \(reason)"
        }
    }

    /// True for failures another endpoint (or a later try) may not have: the network, a
    /// timeout, or etcd saying it is unavailable (no leader, leader changed, shutting down).
    public var isRetryable: Bool {
        switch self {
        case .connectFailed, .timedOut, .connectionLost:
            return true
        case .server(_, _, let status, let code, _):
            return code == GRPCCode.unavailable || code == GRPCCode.deadlineExceeded || [502, 503, 504].contains(status)
        default:
            return false
        }
    }

    /// The project-wide error for this failure.
    public var berthError: BerthError {
        let code: ErrorCode
        switch self {
        case .invalidEndpoint, .invalidArgument, .tls: code = .invalidArgument
        case .connectFailed, .timedOut, .connectionLost, .unavailable: code = .unavailable
        case .leaseNotFound, .leaseLost: code = .notFound
        case .compacted, .watchCanceled: code = .conflict
        case .server(_, _, _, let grpc, _): code = grpc == GRPCCode.notFound ? .notFound : .internal
        case .malformedResponse: code = .internal
        }
        return BerthError(code, description)
    }
}

/// The gRPC status codes etcd's gateway reports in `code`.
enum GRPCCode {
    static let deadlineExceeded = 4
    static let notFound = 5
    static let outOfRange = 11
    static let unavailable = 14
}
