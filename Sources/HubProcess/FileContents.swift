#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// Reading and writing a whole small file (configuration, manifests, documents, keys) without
/// Foundation.
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

    /// Writes `text` to `path` (created or truncated) with `mode` set even on an existing file.
    /// Returns false with `errno` set when it cannot.
    public static func write(_ text: String, to path: String, mode: UInt32) -> Bool {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        guard fchmod(descriptor, mode_t(mode)) == 0 else { return false }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { return false }
            written += count
        }
        return true
    }
}

extension FileContents {
    /// Writes `text` to `path.tmp` and renames it over `path`: a reader sees the old file or the
    /// new one, never a part.
    public static func replace(_ path: String, with text: String, mode: UInt32) throws(ProcessError) {
        guard write(text, to: path + ".tmp", mode: mode), rename(path + ".tmp", path) == 0 else {
            throw ProcessError(message: "cannot write \(path): \(String(cString: strerror(errno)))", errorNumber: errno)
        }
    }
}
