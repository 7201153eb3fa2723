import BerthCore
import ContainerRuntime
import DockerAPI
import Foundation
import HTTPUnix

extension APIRoutes {
    func addImageRoutes(_ router: inout Router) {
        let controller = self.controller
        router.add(.GET, "/images/json") { request in
            await respond {
                let filters = try request.filters()
                return .json(.ok, try await controller.imageSummaries(filters: filters, legacyReference: request.query["filter"]))
            }
        }
        router.add(.POST, "/images/prune") { request in
            await respond {
                let filters = try request.filters()
                return .json(.ok, try await controller.pruneImages(filters: filters))
            }
        }
        router.add(.GET, "/images/{name}/json") { request in
            await respond { .json(.ok, try await controller.imageInspect(request.param("name"))) }
        }
        router.add(.DELETE, "/images/{name}") { request in
            await respond {
                .json(.ok, try await controller.removeImage(request.param("name"), force: request.query.bool("force") ?? false))
            }
        }
        router.add(.POST, "/images/{name}/tag") { request in
            await respond {
                guard let repo = request.query["repo"], !repo.isEmpty else {
                    throw BerthError.invalid("repository name must have at least one component")
                }
                let target = try ImageReference(repo: RuncRuntime.localReference(repo), tag: request.query["tag"])
                try await controller.tagImage(request.param("name"), as: target)
                return .empty(.created)
            }
        }
        // The tarball is written to a file under --root as it arrives (Router.BodyMode.file).
        router.add(.POST, "/images/create", body: .file) { request in
            await respond {
                guard request.query["fromSrc"] == "-" else {
                    let image = request.query["fromImage"] ?? request.query["fromSrc"] ?? ""
                    throw BerthError.notFound("berth cannot pull \(image): it has no registry access; import a root filesystem tarball with `berth image import TARBALL NAME`")
                }
                guard let repo = request.query["repo"], !repo.isEmpty else {
                    throw BerthError.invalid("an imported image needs a name (repo)")
                }
                guard let tarball = request.bodyFile else {
                    throw BerthError(.internal, "the uploaded tarball was not stored")
                }
                let name = try ImageReference(repo: repo, tag: request.query["tag"])
                let record = try await controller.importImage(path: tarball, name: name.description)
                return .text(.ok, "{\"status\":\"\(record.id)\"}\n", contentType: "application/json")
            }
        }
    }
}

extension Controller {
    func importImage(path: String, name: String) async throws -> ImageRecord {
        let record = try await runtime.importImage(path: path, name: name)
        emitImported(record, name: name)
        return record
    }

    func imageInspect(_ reference: String) throws -> [String: AnyCodable] {
        let image = try runtime.image(reference).record
        let config = AnyCodable.object(["Cmd": .strings(image.config.cmd ?? []), "Env": .strings(image.config.env)])
        // ContainerConfig: what API versions before 1.45 show and docker-compose 1.29 reads
        // when it recreates a container (its Volumes, absent here: berth's images declare none).
        return [
            "Id": .string(image.id), "RepoTags": .strings(image.repoTags), "Created": .string(Self.timestamp(image.created)),
            "Size": .int(image.size), "Os": .string(image.os), "Architecture": .string(image.architecture),
            "Config": config, "ContainerConfig": config,
        ]
    }

    func tagImage(_ reference: String, as target: ImageReference) throws {
        let tagged: ImageRecord
        do { tagged = try runtime.tagImage(reference: RuncRuntime.localReference(reference), as: target) } catch {
            throw BerthError.wrap(error, "")
        }
        emitImage("tag", id: tagged.id, name: target.description)
    }

    /// `rmi`, as Docker decides it: a tag of an image with other tags is only untagged,
    /// whoever uses the image; the last tag of an image a container uses needs `force`, and
    /// then only the tag goes. berth keeps the image itself while any container uses it,
    /// running or not (Docker keeps it for running ones), since containers' root
    /// filesystems are built on the image's directory.
    func removeImage(_ reference: String, force: Bool) throws -> [ImageDeleteItem] {
        let image = try runtime.image(reference).record
        let local = RuncRuntime.localReference(reference)
        let viaTag = (try? ImageReference(parsing: local)).flatMap { image.repoTags.contains($0.description) ? $0 : nil }
        let users = containers.values.filter { $0.imageID == image.id }
        let shortImage = String(image.id.dropFirst(7).prefix(12))
        do {
            if let tag = viaTag, image.repoTags.count == 1, let user = users.first {
                guard force else {
                    throw BerthError.conflict("conflict: unable to remove repository reference \"\(reference)\" (must force) - container \(user.shortID) is using its referenced image \(shortImage)")
                }
                try runtime.untagImage(tag)
                emitImage("untag", id: image.id, name: tag.description)
                return [ImageDeleteItem(Untagged: tag.description)]
            }
            if viaTag == nil {
                if let running = users.first(where: \.isRunning) {
                    throw BerthError.conflict("conflict: unable to delete \(shortImage) (cannot be forced) - image is being used by running container \(running.shortID)")
                }
                if let stopped = users.first {
                    throw BerthError.conflict("conflict: unable to delete \(shortImage) (\(force ? "cannot be forced: berth builds its containers' root filesystems on the image" : "must be forced")) - image is being used by stopped container \(stopped.shortID)")
                }
            }
            let removal = try runtime.removeImage(reference: local, force: force)
            emitRemoved(removal, id: image.id)
            return removal.untagged.map { ImageDeleteItem(Untagged: $0) } + removal.deleted.map { ImageDeleteItem(Deleted: $0) }
        } catch {
            throw BerthError.wrap(error, "")
        }
    }
}

/// Just enough of a JSON value for responses without a fixed shape.
enum AnyCodable: Encodable, Sendable {
    case string(String)
    case strings([String])
    case int(Int64)
    case object([String: AnyCodable])

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .strings(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
