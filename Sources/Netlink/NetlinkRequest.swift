import BerthCore

/// One rtnetlink request: the message, and the words an error should use to say what
/// was being done. Built by the static constructors (`NetlinkRequest.createVeth(...)`,
/// `.addAddress(...)`, ...) and run by `RouteNetlink.perform`; encodable on its own so
/// tests can compare the bytes.
public struct NetlinkRequest: Sendable, Equatable {
    public var operation: String
    public var message: NetlinkMessage

    public init(operation: String, message: NetlinkMessage) {
        self.operation = operation
        self.message = message
    }

    /// The wire bytes with a given sequence number.
    public func encoded(sequence: UInt32) -> [UInt8] { message.encoded(sequence: sequence) }

    /// Whether the request asks for a dump (replies end with NLMSG_DONE, not an ack).
    public var isDump: Bool { message.flags & Flag.dump == Flag.dump }

    // Flag sets used by the constructors.
    static let change = Flag.request | Flag.ack
    static let create = Flag.request | Flag.ack | Flag.create | Flag.excl
    static let dump = Flag.request | Flag.dump
}

/// Checks an interface name the way the kernel's dev_valid_name does, so a bad name
/// fails with a clear message before anything is sent.
public func validateInterfaceName(_ name: String) throws {
    let bytes = Array(name.utf8)
    guard !bytes.isEmpty, bytes.count < interfaceNameCapacity else {
        throw BerthError.invalid("interface name \"\(name)\" must be 1 to \(interfaceNameCapacity - 1) bytes")
    }
    guard name != ".", name != "..",
          !bytes.contains(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") || $0 <= 0x20 || $0 == 0x7f })
    else {
        throw BerthError.invalid("interface name \"\(name)\" contains '/', ':', whitespace or control characters")
    }
}
