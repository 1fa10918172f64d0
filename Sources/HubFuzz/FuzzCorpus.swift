#if canImport(Glibc)
    import Glibc
#endif

/// The saved inputs: a file, or every regular file in a directory (sorted, not recursive).
public enum FuzzCorpus {
    public static func files(at path: String) -> [String] {
        var info = stat()
        guard stat(path, &info) == 0 else { return [] }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { return [path] }
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            var child = stat()
            if stat(path + "/" + name, &child) == 0, (child.st_mode & S_IFMT) == S_IFREG { names.append(name) }
        }
        return names.sorted().map { path + "/" + $0 }
    }
}
