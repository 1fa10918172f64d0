import HubProcess

/// The saved inputs: a file, or every regular file in a directory (sorted, not recursive).
public enum FuzzCorpus {
    public static func files(at path: String) -> [String] {
        switch DirectoryListing.kind(of: path) {
        case .directory?: return DirectoryListing.paths(in: path).filter { DirectoryListing.kind(of: $0) == .file }
        case nil: return []
        default: return [path]
        }
    }
}
