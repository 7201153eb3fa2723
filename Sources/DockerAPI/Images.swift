/// `GET /images/json`.
public struct ImageSummary: Codable, Sendable {
    public var Id: String
    public var ParentId: String
    public var RepoTags: [String]
    public var RepoDigests: [String]
    public var Created: Int64
    public var Size: Int64
    public var SharedSize: Int64
    public var Labels: [String: String]
    public var Containers: Int

    public init(Id: String, RepoTags: [String], Created: Int64, Size: Int64, Containers: Int) {
        self.Id = Id
        ParentId = ""
        self.RepoTags = RepoTags
        RepoDigests = []
        self.Created = Created
        self.Size = Size
        SharedSize = -1
        Labels = [:]
        self.Containers = Containers
    }
}

/// `DELETE /images/{name}` answers a list of what was untagged and deleted.
public struct ImageDeleteItem: Codable, Sendable {
    public var Untagged: String?
    public var Deleted: String?
    public init(Untagged: String? = nil, Deleted: String? = nil) {
        self.Untagged = Untagged
        self.Deleted = Deleted
    }
}
