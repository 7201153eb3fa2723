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
                let tag = request.query["tag"].flatMap { $0.isEmpty ? nil : $0 } ?? "latest"
                let record = try await controller.importImage(path: tarball, name: repo + ":" + tag)
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
        return [
            "Id": .string(image.id), "RepoTags": .strings(image.repoTags), "Created": .string(Self.timestamp(image.created)),
            "Size": .int(image.size), "Os": .string(image.os), "Architecture": .string(image.architecture),
            "Config": .object(["Cmd": .strings(image.config.cmd ?? []), "Env": .strings(image.config.env)]),
        ]
    }

    func removeImage(_ reference: String, force: Bool) throws -> [ImageDeleteItem] {
        let image = try runtime.image(reference).record
        if !force, let user = containers.values.first(where: { $0.imageID == image.id }) {
            throw BerthError.conflict("unable to remove image \(reference): it is used by container \(user.shortID)")
        }
        do {
            let removal = try runtime.removeImage(reference: RuncRuntime.localReference(reference), force: force)
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
