/// What kind of failure an error is: decides the HTTP status and lets callers
/// branch without matching message text.
public enum ErrorCode: String, Sendable, Codable {
    case invalidArgument   // bad input: 400
    case notFound          // unknown object: 404
    case conflict          // name taken, object in use, state forbids: 409
    case forbidden         // never allowed on this object (removing a pre-defined network): 403
    case exhausted         // a pool ran out: 500 with a message saying which
    case unavailable       // a dependency (daemon, runtime, store) is not reachable
    case kernel            // the kernel refused a request
    case `internal`        // a bug or an unexpected environment
}

/// The one error type that crosses target boundaries: a code, a message a user can act
/// on, and the underlying cause kept for logs.
public struct BerthError: Error, Sendable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    public var cause: String?

    public init(_ code: ErrorCode, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause.map { String(describing: $0) }
    }

    public static func invalid(_ message: String) -> BerthError { BerthError(.invalidArgument, message) }
    public static func notFound(_ message: String) -> BerthError { BerthError(.notFound, message) }
    public static func conflict(_ message: String) -> BerthError { BerthError(.conflict, message) }

    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }

    /// The HTTP status the Docker API uses for this kind of error.
    public var httpStatus: Int {
        switch code {
        case .invalidArgument: 400
        case .notFound: 404
        case .conflict: 409
        case .forbidden: 403
        case .exhausted, .unavailable, .kernel, .internal: 500
        }
    }
}

extension BerthError {
    /// Wraps any error into a BerthError, keeping one that already is.
    public static func wrap(_ error: any Error, _ context: String) -> BerthError {
        if var berth = error as? BerthError {
            if !context.isEmpty { berth.message = "\(context): \(berth.message)" }
            return berth
        }
        return BerthError(.internal, context, cause: error)
    }
}
