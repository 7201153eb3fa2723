import BerthCore

/// The containers the daemon knows, with the indexes that keep a lookup by name and a
/// start's link refresh from scanning every container. Owned by the controller's actor.
struct ContainerTable: Sendable {
    private var byID: [String: ContainerRecord] = [:]
    private var idsByName: [String: String] = [:]
    /// Containers with `--link`s: the only ones a start may have to update.
    private(set) var linking: Set<String> = []

    subscript(id: String) -> ContainerRecord? {
        get { byID[id] }
        set {
            if let newValue { insert(newValue) } else { remove(id: id) }
        }
    }

    var values: Dictionary<String, ContainerRecord>.Values { byID.values }
    var count: Int { byID.count }

    /// Adds or replaces a record, keeping the indexes in step.
    mutating func insert(_ container: ContainerRecord) {
        if let old = byID.updateValue(container, forKey: container.id), old.name != container.name,
           idsByName[old.name] == old.id {
            idsByName[old.name] = nil
        }
        idsByName[container.name] = container.id
        if container.attachments.contains(where: { !$0.links.isEmpty }) {
            linking.insert(container.id)
        } else {
            linking.remove(container.id)
        }
    }

    mutating func remove(id: String) {
        guard let old = byID.removeValue(forKey: id) else { return }
        if idsByName[old.name] == id { idsByName[old.name] = nil }
        linking.remove(id)
    }

    func named(_ name: String) -> ContainerRecord? {
        idsByName[name].flatMap { byID[$0] }
    }

    /// Docker's resolution order: full ID, exact name (with or without its "/"), then a
    /// unique ID prefix.
    func lookup(_ reference: String) throws(BerthError) -> ContainerRecord {
        let reference = reference.hasPrefix("/") ? String(reference.dropFirst()) : reference
        if let container = byID[reference] { return container }
        if let container = named(reference) { return container }
        let matches = reference.isEmpty ? [] : byID.values.filter { $0.id.hasPrefix(reference) }
        if matches.count == 1, let match = matches.first { return match }
        if matches.count > 1 { throw .invalid("multiple containers found with provided prefix: \(reference)") }
        throw .notFound("No such container: \(reference)")
    }
}
