#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// What is in a directory, without Foundation: plugin folders, fuzz corpora.
public enum DirectoryListing {
    public enum Kind: Sendable, Equatable {
        case directory, file, other
    }

    /// The paths of the directory's entries (`path/name`), sorted, dot-files left out; empty
    /// when it cannot be read.
    public static func paths(in path: String) -> [String] {
        guard let handle = opendir(path) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted().map { path + "/" + $0 }
    }

    /// What `path` is (symlinks followed), or nil when it does not exist.
    public static func kind(of path: String) -> Kind? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        switch status.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .file
        default: return .other
        }
    }
}
