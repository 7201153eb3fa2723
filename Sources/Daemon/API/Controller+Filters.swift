import BerthCore
import ContainerRuntime
import DockerAPI
import Foundation

/// The list and prune endpoints' filters, applied to berth's records. Parsing and matching
/// rules live in DockerAPI (Filters, ContainerFilter, NetworkFilter, ImageFilter,
/// PruneFilter); this file only describes records to them.
extension Controller {
    /// `GET /containers/json`: `limit` > 0 lists the newest N whatever their state, as Docker.
    func containerSummaries(all: Bool, limit: Int?, filters: Filters) throws(BerthError) -> [ContainerSummary] {
        let filter = try containerFilter(filters)
        let limit = limit.flatMap { $0 > 0 ? $0 : nil }
        let includeStopped = all || limit != nil || filter.impliesAll
        let listed = containers.values
            .filter { (includeStopped || $0.isRunning || $0.restartPending) && filter.matches(facts($0)) }
            .sorted { $0.created > $1.created }
        return (limit.map { Array(listed.prefix($0)) } ?? listed).map(summary)
    }

    /// `size=1`: SizeRw is what the container changed (its overlay upper directory),
    /// SizeRootFs that plus its image, as Docker's. The walk runs off the actor.
    func withSizes(_ list: [ContainerSummary]) async throws -> [ContainerSummary] {
        let imageSizes = Dictionary(runtime.listImages().map { ($0.id, $0.size) }, uniquingKeysWith: { first, _ in first })
        let directories = list.map { configuration.containerDir($0.Id) + "/upper" }
        let changed = try await runtime.offload { directories.map(ImageStore.diskUsage) }
        return zip(list, changed).map { summary, rw in
            var sized = summary
            sized.SizeRw = rw
            let (total, overflow) = rw.addingReportingOverflow(imageSizes[summary.ImageID] ?? 0)
            sized.SizeRootFs = overflow ? Int64.max : total
            return sized
        }
    }

    func containerFilter(_ filters: Filters) throws(BerthError) -> ContainerFilter {
        let images = runtime
        return try ContainerFilter(filters, imageID: { reference in
            (try? images.image(reference))?.record.id  // an unknown image matches no container, as in Docker
        }) {
            (reference: String) throws(BerthError) -> Date in
            let record = try container(reference)
            return Self.date(record.created) ?? .distantPast
        }
    }

    func facts(_ record: ContainerRecord) -> ContainerFacts {
        let settings = endpointSettings(record)
        let bindings = Set((record.hostConfig.PortBindings ?? [:]).keys.map(Self.filterPortKey))
        let exposed = Set((record.config.ExposedPorts ?? [:]).keys.map(Self.filterPortKey)).union(bindings)
        // Docker's publish filter names the host side of a mapping the container holds now.
        let published = record.isRunning ? Set((record.publishedPorts ?? []).map { "\($0.hostPort)/\($0.transport.rawValue)" }) : []
        let started = !record.startedAt.isEmpty && !record.startedAt.hasPrefix("0001-")
        return ContainerFacts(
            id: record.id, name: record.name, labels: record.config.Labels ?? [:], state: record.status.rawValue,
            exitCode: record.exitCode, hasStarted: started, imageID: record.imageID,
            networkNames: Array(settings.keys), networkIDs: settings.values.compactMap(\.NetworkID),
            exposedPorts: exposed, publishedPorts: published, created: Self.date(record.created) ?? .distantPast)
    }

    /// "80" in a container's config means "80/tcp".
    static func filterPortKey(_ key: String) -> String { key.contains("/") ? key.lowercased() : key + "/tcp" }

    /// `GET /networks`.
    func networkResources(filters: Filters) throws(BerthError) -> [NetworkResource] {
        let filter = try NetworkFilter(filters)
        return listNetworks().filter { network in
            filter.matches(name: network.name, id: network.id, driver: network.driver,
                           scope: drivers.of(network).scope.rawValue, labels: network.labels,
                           builtin: network.predefined, inUse: !containersUsing(network).isEmpty)
        }.map(networkResource)
    }

    /// `POST /networks/prune`: unused custom networks the filters select.
    func pruneNetworks(filters: Filters) async throws(BerthError) -> [String] {
        let filter = try PruneFilter(filters)
        var removed: [String] = []
        for network in networks.values where !network.predefined && !network.isConfigOnly && containersUsing(network).isEmpty
            && filter.matches(created: Self.date(network.created) ?? .distantPast, labels: network.labels) {
            do {
                try await removeNetwork(network.id)
                removed.append(network.name)
            } catch {
                logger.warning("prune skipped a network", metadata: ["name": .string(network.name), "error": .string("\(error)")])
            }
        }
        return removed.sorted()
    }

    /// `POST /containers/prune`: stopped containers the filters select.
    func pruneContainers(filters: Filters) async throws(BerthError) -> [String] {
        let filter = try PruneFilter(filters)
        var removed: [String] = []
        let candidates = containers.values.filter { record in
            (record.status == .exited || record.status == .created)
                && filter.matches(created: Self.date(record.created) ?? .distantPast, labels: record.config.Labels ?? [:])
        }
        for record in candidates {
            do {
                try await removeContainer(record.id, force: false)
                removed.append(record.id)
            } catch {
                logger.warning("prune skipped a container", metadata: ["name": .string(record.name), "error": .string("\(error)")])
            }
        }
        return removed.sorted()
    }

    /// `POST /images/prune`: images no container uses; only untagged ones unless
    /// `dangling=false` (`docker image prune -a`), as Docker.
    func pruneImages(filters: Filters) async throws(BerthError) -> ImagesPruneResponse {
        let filter = try PruneFilter(filters, allowing: ["dangling", "until", "label", "label!"])
        let danglingOnly = filter.dangling ?? true
        let used = Set(containers.values.map(\.imageID))
        var deleted: [ImageDeleteItem] = []
        var reclaimed: Int64 = 0
        // berth's images carry no labels: a label term never holds, a label! term always does.
        for image in runtime.listImages() where !used.contains(image.id) && (!danglingOnly || image.repoTags.isEmpty)
            && filter.matches(created: image.created, labels: [:]) {
            let runtime = self.runtime
            do {
                let removal = try await runtime.offload { try runtime.removeImage(reference: image.id, force: true) }
                emitRemoved(removal, id: image.id)
                deleted += removal.untagged.map { ImageDeleteItem(Untagged: $0) } + removal.deleted.map { ImageDeleteItem(Deleted: $0) }
                let (sum, overflow) = reclaimed.addingReportingOverflow(image.size)
                if !overflow { reclaimed = sum }
            } catch {
                logger.warning("prune skipped an image", metadata: ["id": .string(image.id), "error": .string("\(error)")])
            }
        }
        return ImagesPruneResponse(ImagesDeleted: deleted, SpaceReclaimed: reclaimed)
    }

    /// `GET /images/json`; `legacyReference` is the pre-1.41 `filter` parameter.
    func imageSummaries(filters: Filters, legacyReference: String?) throws(BerthError) -> [ImageSummary] {
        let images = runtime
        let filter = try ImageFilter(filters, legacyReference: legacyReference) { (reference: String) throws(BerthError) -> Date in
            try images.image(reference).record.created
        }
        return runtime.listImages()
            .filter { filter.matches(repoTags: $0.repoTags, created: $0.created, labels: [:]) }
            .map { image in
                ImageSummary(Id: image.id, RepoTags: image.repoTags, Created: Int64(image.created.timeIntervalSince1970),
                             Size: image.size, Containers: containers.values.filter { $0.imageID == image.id }.count)
            }
    }
}
