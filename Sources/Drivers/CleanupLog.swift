import BerthCore
import Glibc
import Logging
import Netlink

/// The drivers' log. Their clean-ups run where no caller waits for an error (background
/// jobs, undoing a step while the first failure is being thrown), so what they could not
/// remove is told here; berthd's logging setup applies to it.
let driverLog = Logger(label: "berthd.drivers")

extension Logger {
    /// Logs a teardown's failed steps, if any: each names what was left behind.
    func report(_ failures: StepFailures) {
        guard !failures.isEmpty else { return }
        warning("\(failures.description)")
    }

    /// Runs one clean-up step; a failure is logged with what it was for, not thrown (the
    /// caller is already throwing or has nobody to tell).
    func cleanUp(_ step: String, during operation: String, _ body: () throws -> Void) {
        do { try body() } catch {
            warning("\(operation): \(step) failed, left behind", metadata: ["error": .string("\(error)")])
        }
    }
}

extension RouteNetlink {
    /// Deletes a link; one already gone (ENODEV) is what was wanted, not a failure.
    func removeLink(named name: String) throws {
        do { try deleteLink(named: name) } catch let error as NetlinkError where error.errno == ENODEV {}
    }

    func removeLink(index: Int32) throws {
        do { try deleteLink(index: index) } catch let error as NetlinkError where error.errno == ENODEV {}
    }
}

extension NetworkWorker {
    /// Runs a neighbour or forwarding entry's deletion; an entry already gone (ENOENT) is
    /// what was wanted, not a failure.
    static func ignoringAbsent(_ body: () throws -> Void) throws {
        do { try body() } catch let error as NetlinkError where error.errno == ENOENT {}
    }
}
