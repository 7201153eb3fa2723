import BerthCore
import Foundation
import Synchronization

/// Local images imported from rootfs tarballs. Layout under `root`:
///
///     <root>/<64-hex-id>/rootfs/      the extracted filesystem (an overlay lower dir)
///     <root>/<64-hex-id>/image.json   the ImageRecord
///     <root>/.tmp-*                   imports/removals in flight; swept at startup
///
/// An image directory only ever appears by rename(2) of a complete temp directory,
/// so a crash or failed import leaves nothing a later start would mistake for an image.
/// The store does not know about containers: the daemon must refuse to remove an
/// image a container still uses (its rootfs is that container's overlay lower dir).
public final class ImageStore: Sendable {
    public let root: String
    private let tarPath: String
    /// Keyed by full ID ("sha256:…").
    private let images: Mutex<[String: ImageRecord]>
    /// Image directories found at start whose record could not be read, each with why:
    /// they are not listed, and the daemon can say so (this target has no logger).
    public let unreadable: [String]

    public init(root: String, tarPath: String = "/bin/tar") throws {
        self.root = root
        self.tarPath = tarPath
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            throw BerthError(.internal, "cannot create image store \(root)", cause: error)
        }
        var loaded: [String: ImageRecord] = [:]
        var unreadable: [String] = []
        let entries: [String]
        do { entries = try fm.contentsOfDirectory(atPath: root) } catch {
            // Starting with no images would look like they were all removed.
            throw BerthError(.internal, "cannot read image store \(root)", cause: error)
        }
        for entry in entries {
            let path = "\(root)/\(entry)"
            if entry.hasPrefix(".tmp-") {
                // An interrupted import or removal; one that cannot go now is tried again next start.
                try? fm.removeItem(atPath: path)
                continue
            }
            guard Self.isFullHexID(entry) else { continue }  // not the store's
            guard let data = fm.contents(atPath: "\(path)/image.json") else {
                unreadable.append("\(entry): image.json missing or unreadable")
                continue
            }
            do {
                let record = try Self.decoder.decode(ImageRecord.self, from: data)
                guard record.hexID == entry else {
                    unreadable.append("\(entry): image.json names \(record.hexID)")
                    continue
                }
                loaded[record.id] = record
            } catch {
                unreadable.append("\(entry): \(error)")
            }
        }
        Self.resolveDuplicateTags(&loaded)
        images = Mutex(loaded)
        self.unreadable = unreadable
    }

    // MARK: Queries

    /// All images, newest first.
    public func list() -> [ImageRecord] {
        images.withLock { Array($0.values) }.sorted { ($0.created, $0.id) > ($1.created, $1.id) }
    }

    /// Resolves "name", "name:tag", "sha256:<hex>", a full hex ID, or a unique ID prefix.
    public func lookup(reference: String) throws -> ImageRecord {
        try images.withLock { try Self.resolve(reference, in: $0).record }
    }

    /// The directory to use as the overlay lower dir for this image.
    public func rootfsPath(of image: ImageRecord) -> String { "\(root)/\(image.hexID)/rootfs" }

    // MARK: Import

    /// Extracts a rootfs tarball (plain or compressed, as tar detects) and records it under
    /// `name` ("name[:tag]", tag defaults to latest; nil or empty leaves it untagged).
    /// Re-importing identical bytes reuses the existing image and just adds the tag; a tag
    /// held by another image moves to this one, as `docker import` does.
    @discardableResult
    public func importTarball(path: String, name: String?, config: ImageConfig = ImageConfig()) throws -> ImageRecord {
        let reference = try name.flatMap { $0.isEmpty ? nil : try ImageReference(parsing: $0) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw BerthError.notFound("no such file: \(path)")
        }
        let id = "sha256:" + (try ContentDigest.hex(ofFile: path))

        if let existing = try tagIfPresent(id: id, reference: reference) { return existing }

        let staging = "\(root)/.tmp-\(UUID().uuidString)"
        let fm = FileManager.default
        // Gone after rename; a leftover only on failure, and the next start sweeps it.
        defer { try? fm.removeItem(atPath: staging) }
        do {
            try fm.createDirectory(atPath: "\(staging)/rootfs", withIntermediateDirectories: true)
        } catch {
            throw BerthError(.internal, "cannot create \(staging)", cause: error)
        }
        // As root, GNU tar keeps numeric owners and modes; it strips leading '/' and refuses
        // members with '..' so an archive cannot write outside the staging directory.
        let result = try Command.run(tarPath, ["-x", "-f", path, "-C", "\(staging)/rootfs", "--numeric-owner"])
        guard result.status == 0 else {
            throw BerthError.invalid("cannot extract \(path): \(result.diagnostic)")
        }
        chmod("\(staging)/rootfs", 0o755) // archives made from a mktemp dir can carry 0700 for "./"
        let record = ImageRecord(id: id, repoTags: reference.map { [$0.description] } ?? [],
                                 created: Self.now(), size: Self.diskUsage("\(staging)/rootfs"), config: config)
        try Self.writeRecord(record, to: staging)

        return try images.withLock { images -> ImageRecord in
            // A concurrent import of the same bytes may have won the race: keep its copy.
            if images[id] != nil {
                return try Self.applyTag(reference, to: id, in: &images, root: root)
            }
            let final = "\(root)/\(record.hexID)"
            guard rename(staging, final) == 0 else {
                throw BerthError(.internal, "cannot move image into place at \(final): \(errnoText(errno))")
            }
            // Inserted untagged so applyTag can move the tag off any image holding it.
            var untagged = record
            untagged.repoTags = []
            images[id] = untagged
            return try Self.applyTag(reference, to: id, in: &images, root: root)
        }
    }

    private func tagIfPresent(id: String, reference: ImageReference?) throws -> ImageRecord? {
        try images.withLock { images in
            guard images[id] != nil else { return nil }
            return try Self.applyTag(reference, to: id, in: &images, root: root)
        }
    }

    /// `docker tag`: adds `target` to the image `reference` resolves to.
    @discardableResult
    public func tag(reference: String, as target: String) throws -> ImageRecord {
        let newReference = try ImageReference(parsing: target)
        return try images.withLock { images in
            let id = try Self.resolve(reference, in: images).record.id
            return try Self.applyTag(newReference, to: id, in: &images, root: root)
        }
    }

    /// Takes one tag off its image, even its last (the image stays, untagged): `rmi -f`
    /// of a tag whose image a container still uses.
    public func untag(_ tag: ImageReference) throws {
        let key = tag.description
        try images.withLock { images in
            guard var record = images.values.first(where: { $0.repoTags.contains(key) }) else {
                throw BerthError.notFound("no such image: \(key)")
            }
            record.repoTags.removeAll { $0 == key }
            try Self.writeRecord(record, to: "\(root)/\(record.hexID)")
            images[record.id] = record
        }
    }

    // MARK: Remove

    /// Docker `rmi` semantics: a tag reference untags, deleting the image only with its last tag;
    /// an ID reference to an image with several tags needs `force`.
    @discardableResult
    public func remove(reference: String, force: Bool = false) throws -> ImageRemoval {
        let (removal, doomed) = try images.withLock { images -> (ImageRemoval, String?) in
            let (record, viaTag) = try Self.resolve(reference, in: images)
            var removal = ImageRemoval(untagged: [], deleted: [])
            if let viaTag, record.repoTags.count > 1 {
                var updated = record
                updated.repoTags.removeAll { $0 == viaTag }
                try Self.writeRecord(updated, to: "\(root)/\(record.hexID)")
                images[record.id] = updated
                removal.untagged = [viaTag]
                return (removal, nil)
            }
            if viaTag == nil, record.repoTags.count > 1, !force {
                throw BerthError.conflict("unable to delete \(record.shortID) (must be forced) - image is referenced in multiple repositories")
            }
            // Renamed away under the lock so the image vanishes atomically; deleted outside it.
            let doomed = "\(root)/.tmp-rm-\(UUID().uuidString)"
            guard rename("\(root)/\(record.hexID)", doomed) == 0 else {
                throw BerthError(.internal, "cannot remove image \(record.shortID): \(errnoText(errno))")
            }
            images[record.id] = nil
            removal.untagged = record.repoTags
            removal.deleted = [record.id]
            return (removal, doomed)
        }
        // Already unlisted; what cannot be deleted now is a .tmp- entry the next start sweeps.
        if let doomed { try? FileManager.default.removeItem(atPath: doomed) }
        return removal
    }

    // MARK: Helpers (called with the lock held)

    private static func resolve(_ reference: String, in images: [String: ImageRecord]) throws -> (record: ImageRecord, viaTag: String?) {
        let text = reference.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { throw BerthError.invalid("empty image reference") }
        if text.hasPrefix("sha256:") {
            return (try byPrefix(String(text.dropFirst(7)), original: text, in: images), nil)
        }
        if isFullHexID(text), let record = images["sha256:" + text] { return (record, nil) }
        // Not a valid name:tag is a real answer here: the text may still be an ID prefix.
        if let parsed = try? ImageReference(parsing: text) {
            let key = parsed.description
            if let record = images.values.first(where: { $0.repoTags.contains(key) }) { return (record, key) }
        }
        if isHex(text) { return (try byPrefix(text, original: text, in: images), nil) }
        throw BerthError.notFound("no such image: \(reference)")
    }

    private static func byPrefix(_ prefix: String, original: String, in images: [String: ImageRecord]) throws -> ImageRecord {
        guard !prefix.isEmpty, isHex(prefix) else { throw BerthError.notFound("no such image: \(original)") }
        let matches = images.values.filter { $0.hexID.hasPrefix(prefix.lowercased()) }
        guard matches.count <= 1 else { throw BerthError.invalid("image ID prefix \"\(original)\" is ambiguous (\(matches.count) images)") }
        guard let match = matches.first else { throw BerthError.notFound("no such image: \(original)") }
        return match
    }

    private static func applyTag(_ reference: ImageReference?, to id: String, in images: inout [String: ImageRecord], root: String) throws -> ImageRecord {
        guard var record = images[id] else { throw BerthError.notFound("no such image: \(id)") }
        guard let reference else { return record }
        let tag = reference.description
        if record.repoTags.contains(tag) { return record }
        // The tag moves: take it off whichever image had it (that one may become dangling).
        for var other in images.values where other.id != id && other.repoTags.contains(tag) {
            other.repoTags.removeAll { $0 == tag }
            try writeRecord(other, to: "\(root)/\(other.hexID)")
            images[other.id] = other
        }
        record.repoTags.append(tag)
        try writeRecord(record, to: "\(root)/\(record.hexID)")
        images[id] = record
        return record
    }

    /// After a crash between two record writes a tag could be on two images; the newest keeps it.
    private static func resolveDuplicateTags(_ images: inout [String: ImageRecord]) {
        var owner: [String: ImageRecord] = [:]
        for record in images.values.sorted(by: { $0.created < $1.created }) {
            for tag in record.repoTags {
                if let previous = owner[tag] { images[previous.id]?.repoTags.removeAll { $0 == tag } }
                owner[tag] = record
            }
        }
    }

    private static func writeRecord(_ record: ImageRecord, to directory: String) throws {
        do {
            let data = try encoder.encode(record)
            try data.write(to: URL(fileURLWithPath: "\(directory)/image.json"), options: .atomic)
        } catch {
            throw BerthError(.internal, "cannot write image metadata in \(directory)", cause: error)
        }
    }

    /// Sum of lstat sizes of regular files and symlinks; hard links are counted once.
    public static func diskUsage(_ path: String) -> Int64 {
        var total: Int64 = 0
        var seen = Set<UInt64>()
        guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
        while let relative = walker.nextObject() as? String {
            var info = stat()
            guard lstat("\(path)/\(relative)", &info) == 0 else { continue }
            let type = info.st_mode & S_IFMT
            guard type == S_IFREG || type == S_IFLNK else { continue }
            if type == S_IFREG, info.st_nlink > 1, !seen.insert(UInt64(info.st_ino)).inserted { continue }
            total += Int64(info.st_size)
        }
        return total
    }

    /// Whole seconds, so a record read back from image.json (ISO 8601) equals the one returned.
    static func now() -> Date { Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)) }

    static func isHex(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    static func isFullHexID(_ text: String) -> Bool { text.utf8.count == 64 && isHex(text) }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}
