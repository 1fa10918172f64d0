import HubCore
import HubStore

#if canImport(Glibc)
    import Glibc
#endif

/// A test helper for the durability test: `homehub-store-writer DB WRITERS [UPDATES]`.
///
/// WRITERS tasks each update their own shadow (`writer-N`) with versions 1, 2, 3, … and print
/// `ack writer-N VERSION` on stdout only after the store reported the write done. The test
/// kills this process with SIGKILL at a random moment and checks that every acknowledged
/// version is in the database.
@main
struct StoreWriter {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 3, let writers = Int(arguments[2]) else {
            emit("usage: homehub-store-writer DB WRITERS [UPDATES]\n", to: 2)
            exit(64)
        }
        let updates = arguments.count > 3 ? Int(arguments[3]) ?? Int.max : Int.max
        let store = try HubStore(path: arguments[1], now: 0)
        emit("ready\n", to: 1)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let id = ShadowID(unchecked: "writer-\(writer)", shadowName: nil)
                    var record = ShadowRecord(version: 0)
                    for version in 1...Int64(max(1, updates)) {
                        let previous = version == 1 ? nil : record.version
                        record.version = version
                        record.reported = [
                            "sequence": .integer(version), "padding": .string(String(repeating: "x", count: 200)),
                        ]
                        record.reportedMetadata = [
                            "sequence": ["timestamp": .integer(version)], "padding": ["timestamp": 0],
                        ]
                        try await store.saveShadow(id, record, replacing: previous, at: version)
                        emit("ack writer-\(writer) \(version)\n", to: 1)
                    }
                }
            }
            try await group.waitForAll()
        }
        store.close()
    }

    /// One write(2) per line: lines under PIPE_BUF reach the reader whole, with no buffering.
    static func emit(_ line: String, to descriptor: Int32) {
        var line = line
        line.withUTF8 { buffer in _ = write(descriptor, buffer.baseAddress, buffer.count) }
    }
}
