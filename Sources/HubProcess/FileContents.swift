#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// Reading a whole small file (configuration, manifests, documents) without Foundation.
public enum FileContents {
    /// The file's bytes, or nil when it cannot be read or is larger than `limit`. `-` is stdin.
    public static func read(_ path: String, limit: Int = 16 << 20) -> [UInt8]? {
        guard let file = path == "-" ? stdin : fopen(path, "r") else { return nil }
        defer { if path != "-" { fclose(file) } }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
            if bytes.count > limit { return nil }
        }
        return bytes
    }

    public static func text(_ path: String, limit: Int = 16 << 20) -> String? {
        read(path, limit: limit).map { String(decoding: $0, as: UTF8.self) }
    }
}
