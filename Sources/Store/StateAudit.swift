/// What berthd finds at start that its database does not account for. Pure: the caller
/// gathers the listings.
///
/// Lost state, which only the user may resolve (`--recover` or `--remove-unrecorded`):
/// - a record copied beside the database that the database lacks (the copy is written
///   after each commit and removed before each delete, so no crash makes one);
/// - a runc container no container record names (a start saves the record before runc
///   runs, and a removal deletes the record only after runc forgot the container).
///
/// Not lost state, cleaned as before: a runc container whose record exists but does not
/// say running (a start cut short), namespace files and bridge ports no running record
/// owns while every runc container is accounted for.
public struct StateAudit: Sendable, Equatable {
    /// Keys only the copies hold, sorted.
    public var lostKeys: [String]
    /// runc containers without a record, sorted.
    public var unrecordedContainers: [String]

    public var isClean: Bool { lostKeys.isEmpty && unrecordedContainers.isEmpty }

    public init(lostKeys: [String], unrecordedContainers: [String]) {
        self.lostKeys = lostKeys
        self.unrecordedContainers = unrecordedContainers
    }

    public static func audit(storedKeys: Set<String>, copiedKeys: some Sequence<String>,
                             containerPrefix: String, runcContainers: some Sequence<String>) -> StateAudit {
        let lost = copiedKeys.filter { !storedKeys.contains($0) }
        let unrecorded = runcContainers.filter { !storedKeys.contains(containerPrefix + $0) }
        return StateAudit(lostKeys: Array(Set(lost)).sorted(), unrecordedContainers: Array(Set(unrecorded)).sorted())
    }
}
