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
        // Docker's links follow the container, not its name: linkers' links are rewritten
        // to the new name with the alias they had, so /etc/hosts and link DNS stay the same.
        var relinked = false
        for id in containers.linking where id != record.id {
            guard var linker = containers[id] else { continue }
            var changed = false
            for index in linker.attachments.indices {
                let links = linker.attachments[index].links.map { link in
                    Self.renamedLink(link, from: record.name, to: newName) ?? link
                }
                if links != linker.attachments[index].links {
                    linker.attachments[index].links = links
                    changed = true
                }
            }
            if let links = linker.hostConfig.Links {
                linker.hostConfig.Links = links.map { Self.renamedLink($0, from: record.name, to: newName) ?? $0 }
            }
            guard changed else { continue }
            // The rename happened; a linker whose record cannot be written is logged and
            // kept in memory as with any change after the fact.
            saveOrKeepInMemory(linker, doing: "link to a renamed container")
            relinked = true
        }
        if relinked { publishDNS() } else if record.state.isSettledRunning { publishDNS(replacing: record, with: renamed) }
        emit(container: renamed, "rename", ["oldName": "/" + record.name])
    }

    /// `link` ("target[:alias]", target maybe with a leading "/") pointed at `old`: the same
    /// link to `new`, keeping the alias (the old name when there was none); nil otherwise.
    static func renamedLink(_ link: String, from old: String, to new: String) -> String? {
        let parts = link.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let target = parts.first, (target.hasPrefix("/") ? String(target.dropFirst()) : target) == old else { return nil }
        let alias = parts.count > 1 && !parts[1].isEmpty ? parts[1] : old
        return new + ":" + alias
    }
}
