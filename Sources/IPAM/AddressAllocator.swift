import BerthCore

/// Hands out addresses of one IPv4 subnet from a bitmap. Allocation continues after
/// the last address handed out (wrapping), as Docker does, so an address just released
/// is not given to the next container while the kernel may still be tearing down the
/// previous owner's interface.
public struct IPv4AddressAllocator: Sendable {
    public let subnet: IPv4Network
    /// The part of the subnet dynamic allocation draws from (`--ip-range`), defaults to the subnet.
    public let range: IPv4Network
    private var words: [UInt64]
    private var cursor: UInt32 = 0
    public private(set) var allocatedCount = 0

    /// - Parameter reserved: addresses never handed out dynamically or statically
    ///   (gateway, auxiliary addresses). Network and broadcast addresses are always reserved.
    public init(subnet: IPv4Network, range: IPv4Network? = nil, reserved: [IPv4Address] = []) throws(BerthError) {
        guard subnet.prefixLength <= 30 else {
            throw .invalid("subnet \(subnet) is too small: a network needs at least a /30")
        }
        guard subnet.prefixLength >= 8 else {
            throw .invalid("subnet \(subnet) is too large: at most a /8 is supported")
        }
        let range = range ?? subnet.canonical
        guard subnet.contains(range.address), range.prefixLength >= subnet.prefixLength else {
            throw .invalid("ip range \(range) is not inside subnet \(subnet)")
        }
        self.subnet = subnet.canonical
        self.range = range.canonical
        words = Array(repeating: 0, count: Int((subnet.size + 63) / 64))
        mark(offset: 0)
        mark(offset: UInt32(subnet.size - 1))
        for address in reserved where subnet.contains(address) {
            mark(offset: address.value - self.subnet.address.value)
        }
    }

    private func isSet(_ offset: UInt32) -> Bool {
        words[Int(offset / 64)] & (1 << UInt64(offset % 64)) != 0
    }

    private mutating func mark(offset: UInt32) {
        words[Int(offset / 64)] |= 1 << UInt64(offset % 64)
    }

    private mutating func clear(offset: UInt32) {
        words[Int(offset / 64)] &= ~(1 << UInt64(offset % 64))
    }

    public func isAllocated(_ address: IPv4Address) -> Bool {
        subnet.contains(address) && isSet(address.value - subnet.address.value)
    }

    /// Takes the next free address in the range.
    public mutating func allocate() throws(BerthError) -> IPv4Address {
        let first = range.address.value - subnet.address.value
        let end = first + UInt32(range.size)
        let start = cursor >= first && cursor < end ? cursor : first
        guard let offset = firstFree(from: start, to: end) ?? firstFree(from: first, to: start) else {
            throw BerthError(.exhausted, "no free address left in \(range)")
        }
        mark(offset: offset)
        cursor = offset + 1
        allocatedCount += 1
        return IPv4Address(subnet.address.value + offset)
    }

    /// The lowest clear bit in [from, to), a word at a time so the cost stays flat as
    /// the subnet fills.
    private func firstFree(from: UInt32, to: UInt32) -> UInt32? {
        var offset = from
        while offset < to {
            let bit = offset % 64
            // Treat the bits below `offset` in this word as taken.
            let word = words[Int(offset / 64)] | ((1 << UInt64(bit)) &- 1)
            if word != .max {
                let candidate = offset - bit + UInt32((~word).trailingZeroBitCount)
                return candidate < to ? candidate : nil
            }
            offset += 64 - bit
        }
        return nil
    }

    /// Takes a specific address (static `--ip`).
    public mutating func allocate(_ address: IPv4Address) throws(BerthError) {
        guard subnet.contains(address) else {
            throw .invalid("address \(address) is not in subnet \(subnet)")
        }
        let offset = address.value - subnet.address.value
        guard !isSet(offset) else {
            throw .conflict("address \(address) is already in use on subnet \(subnet)")
        }
        mark(offset: offset)
        allocatedCount += 1
    }

    public mutating func release(_ address: IPv4Address) {
        guard subnet.contains(address) else { return }
        let offset = address.value - subnet.address.value
        // Network and broadcast stay reserved.
        guard offset != 0, offset != UInt32(subnet.size - 1), isSet(offset) else { return }
        clear(offset: offset)
        allocatedCount -= 1
    }
}

/// IPv6 subnets are too wide for a bitmap; the set of taken offsets is kept instead,
/// and new addresses continue upward from the last one given.
public struct IPv6AddressAllocator: Sendable {
    public let subnet: IPv6Network
    private var taken: Set<IPv6Address>
    private var cursor: UInt64 = 1

    public init(subnet: IPv6Network, reserved: [IPv6Address] = []) throws(BerthError) {
        guard subnet.prefixLength <= 124 else { throw .invalid("IPv6 subnet \(subnet) is too small") }
        self.subnet = subnet.canonical
        taken = Set(reserved.filter { subnet.contains($0) })
        taken.insert(self.subnet.address)
    }

    public mutating func allocate() throws(BerthError) -> IPv6Address {
        let hostBits = 128 - subnet.prefixLength
        let limit: UInt64 = hostBits >= 64 ? .max : (UInt64(1) << UInt64(hostBits)) - 1
        var tries: UInt64 = 0
        while tries < min(limit, 1 << 20) {
            if cursor == 0 || cursor > limit { cursor = 1 }
            let candidate = subnet.address.adding(cursor)
            // Wraps to 0 past UInt64.max (a /64 or wider) and starts over at 1: never traps.
            cursor &+= 1
            tries += 1
            if taken.insert(candidate).inserted { return candidate }
        }
        throw BerthError(.exhausted, "no free address left in \(subnet)")
    }

    public mutating func allocate(_ address: IPv6Address) throws(BerthError) {
        guard subnet.contains(address) else { throw .invalid("address \(address) is not in subnet \(subnet)") }
        guard taken.insert(address).inserted else {
            throw .conflict("address \(address) is already in use on subnet \(subnet)")
        }
    }

    public mutating func release(_ address: IPv6Address) {
        guard address != subnet.address else { return }
        taken.remove(address)
    }
}
