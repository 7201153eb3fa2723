import ArgumentParser
import DockerAPI
import Foundation

struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Manage images",
        subcommands: [ImageImport.self, ImageList.self, ImageRemove.self])
}

struct ImageImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "Import a root filesystem tarball as an image")
    @Argument(help: "Tarball path") var tarball: String
    @Argument(help: "Image name[:tag]") var name: String

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: tarball) else {
            throw CLIFailure(message: "cannot read \(tarball)")
        }
        var repo = name
        var tag = "latest"
        if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") {
            repo = String(name[..<colon])
            tag = String(name[name.index(after: colon)...])
        }
        let api = try APIClient()
        let response = try await api.call("POST", "/images/create", query: [("fromSrc", "-"), ("repo", repo), ("tag", tag)],
                                          body: Array(data), contentType: "application/x-tar")
        // Docker answers a JSON progress stream whose last object carries the ID or an error.
        let lines = String(decoding: response.body, as: UTF8.self).split(separator: "\n")
        for line in lines {
            // A line that is not a JSON object carries no ID or error.
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
            if let error = object["error"] as? String ?? (object["errorDetail"] as? [String: Any])?["message"] as? String {
                throw CLIFailure(message: error)
            }
            if let status = object["status"] as? String, status.hasPrefix("sha256:") { print(status) }
        }
    }
}

struct ImageList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images")
    @Flag(name: [.short, .long]) var quiet = false

    func run() async throws {
        try await listImages(quiet: quiet)
    }
}

struct Images: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List images")
    @Flag(name: [.short, .long]) var quiet = false

    func run() async throws {
        try await listImages(quiet: quiet)
    }
}

func listImages(quiet: Bool) async throws {
    let api = try APIClient()
    let images = try await api.json([ImageSummary].self, "GET", "/images/json")
    if quiet {
        for image in images { print(shortImageID(image.Id)) }
        return
    }
    var rows: [[String: String]] = []
    for image in images {
        for tag in image.RepoTags.isEmpty ? ["<none>:<none>"] : image.RepoTags {
            let colon = tag.lastIndex(of: ":") ?? tag.endIndex
            rows.append(["Repository": String(tag[..<colon]),
                         "Tag": colon < tag.endIndex ? String(tag[tag.index(after: colon)...]) : "",
                         "ID": shortImageID(image.Id), "Created": ago(image.Created),
                         "Size": ByteCountFormatter.string(fromByteCount: image.Size, countStyle: .decimal)])
        }
    }
    printTable(headers: ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], keys: ["Repository", "Tag", "ID", "Created", "Size"], rows: rows)
}

func shortImageID(_ id: String) -> String {
    String((id.hasPrefix("sha256:") ? String(id.dropFirst(7)) : id).prefix(12))
}

struct ImageRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove images")
    @Flag(name: [.short, .long]) var force = false
    @Argument var images: [String]

    func run() async throws {
        let api = try APIClient()
        for image in images {
            let items = try await api.json([ImageDeleteItem].self, "DELETE", "/images/\(segment(image))",
                                           query: force ? [("force", "1")] : [])
            for item in items {
                if let untagged = item.Untagged { print("Untagged: \(untagged)") }
                if let deleted = item.Deleted { print("Deleted: \(deleted)") }
            }
        }
    }
}

struct Version: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the client and daemon versions")

    func run() async throws {
        print("Client: berth \(berthVersion) (API \(APIVersion.current))")
        let api = try APIClient()
        let server = try await api.json(VersionResponse.self, "GET", "/version")
        print("Server: \(server.Platform.Name) \(server.Version) (API \(server.ApiVersion), minimum \(server.MinAPIVersion), kernel \(server.KernelVersion))")
    }
}

let berthVersion = "0.1.0"
