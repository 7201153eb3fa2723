import Namespaces

/// Removing a namespace file needs no namespace switch, so it is done directly.
enum NamespaceCleanup {
    static func remove(path: String) { NamespaceFile.remove(path: path) }
}
