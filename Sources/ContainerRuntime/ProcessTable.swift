import BerthCore
import Foundation

/// `top`: the host's `ps` output with the caller's arguments, cut down to a container's
/// processes. ps runs on the host, as Docker does, so every ps option works and the
/// columns are ps's own; the container's pids come from its cgroup (`runc ps`), so only
/// its processes are kept, whatever ps listed.
public struct ProcessTable: Sendable, Equatable {
    public var titles: [String]
    public var processes: [[String]]

    public init(titles: [String], processes: [[String]]) {
        self.titles = titles
        self.processes = processes
    }

    /// Docker's rule: the last column may hold spaces (the command), the others may not;
    /// rows are kept when their PID column is one of `pids`.
    public static func parse(_ output: String, keeping pids: Set<Int32>) throws(BerthError) -> ProcessTable {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: true)
        guard let header = lines.first else { throw BerthError(.internal, "ps printed nothing") }
        let titles = header.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let pidColumn = titles.firstIndex(of: "PID") else {
            throw .invalid("Couldn't find PID field in ps output")
        }
        var processes: [[String]] = []
        for line in lines.dropFirst() {
            let fields = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard fields.count > pidColumn, let pid = Int32(fields[pidColumn]) else {
                throw BerthError(.internal, "unexpected ps output: \(line)")
            }
            guard pids.contains(pid) else { continue }
            // Overhanging fields are the last column's (a command with arguments).
            let last = titles.count - 1
            processes.append(fields.count > last ? Array(fields[..<last]) + [fields[last...].joined(separator: " ")] : fields)
        }
        return ProcessTable(titles: titles, processes: processes)
    }

    /// The arguments of `ps_args`, split on white space as Docker does; empty means "-ef".
    public static func arguments(_ psArgs: String?) -> [String] {
        let fields = (psArgs ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
        return fields.isEmpty ? ["-ef"] : fields
    }

    /// Runs ps with `arguments` (no shell) and keeps `pids`' rows.
    public static func list(arguments: [String], keeping pids: Set<Int32>) throws -> ProcessTable {
        let output = try Command.run(Runc.resolve("ps"), arguments)
        guard output.status == 0 else {
            throw BerthError.invalid("ps: \(output.diagnostic)")
        }
        return try parse(String(decoding: output.stdout, as: UTF8.self), keeping: pids)
    }
}
