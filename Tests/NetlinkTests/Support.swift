import Glibc
import Netlink

/// Joins hex fragments, dropping whitespace, so fixtures can be laid out one struct
/// field or attribute per line.
func hex(_ parts: String...) -> String {
    parts.joined().filter { !$0.isWhitespace }.lowercased()
}

/// Hex of a string's UTF-8 bytes, for the text inside attributes.
func ascii(_ text: String) -> String {
    text.utf8.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}

func bytes(fromHex text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count - 1, by: 2).compactMap { UInt8(String(digits[$0...$0 + 1]), radix: 16) }
}

extension Array where Element == UInt8 {
    var hexString: String {
        map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}

/// Records every datagram sent and replays queued kernel replies, one per receive.
final class FakeTransport: NetlinkTransport {
    var sent: [[UInt8]] = []
    var replies: [[UInt8]] = []

    init(replies: [String] = []) {
        self.replies = replies.map { bytes(fromHex: $0) }
    }

    func queue(_ hexText: String) { replies.append(bytes(fromHex: hexText)) }

    func send(_ bytes: [UInt8]) throws { sent.append(bytes) }

    func receive() throws -> [UInt8] {
        guard !replies.isEmpty else {
            throw NetlinkError(operation: "receive", errno: EAGAIN, detail: "no reply queued in the fake transport")
        }
        return replies.removeFirst()
    }
}

/// Hex of a host-order (little-endian on the test machines) u32 / u16.
func le32(_ value: UInt32) -> String { withUnsafeBytes(of: value.littleEndian) { Array($0) }.hexString }
func le16(_ value: UInt16) -> String { withUnsafeBytes(of: value.littleEndian) { Array($0) }.hexString }

/// A kernel reply's nlmsghdr with port id 0x1234 (the fake socket's).
func replyHeader(length: UInt32, type: UInt16, flags: UInt16, sequence: UInt32) -> String {
    le32(length) + le16(type) + le16(flags) + le32(sequence) + le32(0x1234)
}

/// NLMSG_ERROR with error 0 (an ack), NLM_F_CAPPED: error, then the request's header.
func ack(sequence: UInt32, requestType: UInt16 = 16) -> String {
    replyHeader(length: 36, type: 2, flags: 0x100, sequence: sequence)
        + "00000000"
        + le32(32) + le16(requestType) + "0500" + le32(sequence) + "00000000"
}

/// NLMSG_ERROR carrying -errno and, when given, an NLMSGERR_ATTR_MSG.
func errorReply(sequence: UInt32, errno: Int32, message: String? = nil) -> String {
    var tlv = ""
    if let message {
        let length = 4 + message.utf8.count + 1
        tlv = le16(UInt16(length)) + le16(1) + ascii(message) + "00"
        tlv += String(repeating: "00", count: (4 - length % 4) % 4)
    }
    let total = 16 + 4 + 16 + tlv.count / 2
    return replyHeader(length: UInt32(total), type: 2, flags: message == nil ? 0x100 : 0x300, sequence: sequence)
        + le32(UInt32(bitPattern: -errno))
        + le32(32) + le16(16) + "0500" + le32(sequence) + "00000000"
        + tlv
}

/// NLMSG_DONE closing a dump, status 0.
func done(sequence: UInt32) -> String {
    replyHeader(length: 20, type: 3, flags: 0x2, sequence: sequence) + "00000000"
}

/// Whether live tests may run: only when asked (BERTH_LIVE_NETNS=1), and only in what
/// looks like a throwaway `unshare --net` namespace: not PID 1's (when that can be
/// inspected), and holding nothing but `lo`. Computed once, before any test adds links.
let liveNamespaceAllowed: Bool = {
    guard let flag = getenv("BERTH_LIVE_NETNS"), String(cString: flag) == "1" else { return false }
    var own = stat()
    var initial = stat()
    guard stat("/proc/self/ns/net", &own) == 0 else { return false }
    if stat("/proc/1/ns/net", &initial) == 0, own.st_ino == initial.st_ino, own.st_dev == initial.st_dev {
        return false
    }
    guard let links = try? RouteNetlink().links() else { return false }
    return links.map(\.name) == ["lo"]
}()
