import BerthCore
import CNftables

/// libnftables, used as a library: each call parses a script in the nft language and
/// sends it to the kernel as one batch, which the kernel commits atomically or not at all.
///
/// A libnftables context is not safe for concurrent use: its owner calls it from one
/// thread at a time (`Firewall` keeps it in the state of its own thread). The context's netlink
/// socket belongs to the network namespace berthd runs in.
final class Nftables {
    private let context: OpaquePointer

    init() throws(BerthError) {
        guard let context = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else {
            throw BerthError(.unavailable, "cannot create a libnftables context")
        }
        // Errors and listings are captured instead of printed to stderr/stdout.
        nft_ctx_buffer_error(context)
        nft_ctx_buffer_output(context)
        // Listings without set elements: they are only read for structure.
        nft_ctx_output_set_flags(context, UInt32(NFT_CTX_OUTPUT_TERSE))
        self.context = context
    }

    deinit { nft_ctx_free(context) }

    /// Runs a script as one transaction; returns what it printed (for `list` commands).
    @discardableResult
    func run(_ script: String) throws(BerthError) -> String {
        let status = nft_run_cmd_from_buffer(context, script)
        // Reading the buffers also resets them for the next call.
        let output = nft_ctx_get_output_buffer(context).map { String(cString: $0) } ?? ""
        let errors = nft_ctx_get_error_buffer(context).map { String(cString: $0) } ?? ""
        guard status == 0 else {
            throw BerthError(.kernel, "nftables refused berth's rules: " + Self.firstError(errors))
        }
        return output
    }

    /// Runs a `list` command and returns its JSON (libnftables' JSON schema), set
    /// elements left out.
    func listJSON(_ command: String) throws(BerthError) -> String {
        nft_ctx_output_set_flags(context, UInt32(NFT_CTX_OUTPUT_TERSE) | UInt32(NFT_CTX_OUTPUT_JSON))
        defer { nft_ctx_output_set_flags(context, UInt32(NFT_CTX_OUTPUT_TERSE)) }
        return try run(command)
    }

    /// Runs commands written in libnftables' JSON schema, as one transaction.
    func runJSON(_ commands: String) throws(BerthError) {
        // With JSON output on, libnftables reads its input as JSON too.
        nft_ctx_output_set_flags(context, UInt32(NFT_CTX_OUTPUT_TERSE) | UInt32(NFT_CTX_OUTPUT_JSON))
        defer { nft_ctx_output_set_flags(context, UInt32(NFT_CTX_OUTPUT_TERSE)) }
        try run(commands)
    }

    /// libnftables reports an error as the message followed by the offending line and a
    /// marker line; the message is the part a user can act on.
    static func firstError(_ text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        return lines.first.map { line in
            // "/dev/stdin:3:1-20: Error: ..." → "Error: ..."
            if let range = line.range(of: "Error: ") { return String(line[range.lowerBound...]) }
            return String(line)
        } ?? "unknown error"
    }
}
