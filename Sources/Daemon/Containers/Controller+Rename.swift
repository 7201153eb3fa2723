import BerthCore
import Foundation

extension Controller {
    /// `rename`: Docker's checks and messages; the new name is taken and recorded before
    /// the call returns, and a running container's DNS name on user networks follows it
    /// (the old name stops resolving, the new one resolves).
    func renameContainer(_ reference: String, to requestedName: String?) throws(BerthError) {
        let newName = requestedName.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } ?? ""
        guard !newName.isEmpty else { throw .invalid("Neither old nor new names may be empty") }
        let record = try container(reference)
        try Identifiers.validateName(newName, kind: "container")
        guard newName != record.name else {
            throw .invalid("Renaming a container with the same name as its current name")
        }
        if let owner = containers.named(newName) {
            throw .conflict("Conflict. The container name \"/\(newName)\" is already in use by container \"\(owner.id)\". You have to remove (or rename) that container to be able to reuse that name.")
        }
        guard !record.state.isPassing else {
            throw .conflict("container \(record.name) is starting, stopping or being removed: try again")
        }
        var renamed = record
        renamed.name = newName
        // Not recorded, not renamed: the old name stays the container's.
        try save(renamed)
        if record.state.isSettledRunning { publishDNS(replacing: record, with: renamed) }
        // event: rename
    }
}
