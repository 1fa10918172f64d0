import Foundation
import HubCore
import HubStore
import Testing

/// A writer process reports writes done; we SIGKILL it mid-stream and check that every write
/// it acknowledged survived and that nothing half-written is in the file.
struct KillDurabilityTests {
    @Test(.timeLimit(.minutes(1)))
    func everyAcknowledgedWriteSurvivesSIGKILL() async throws {
        let directory = TemporaryDirectory()
        let database = directory.file("hub.db")
        let process = Process()
        process.executableURL = productsDirectory().appendingPathComponent("homehub-store-writer")
        process.arguments = [database, "16"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()

        // Read on a dispatch thread: the pipe read blocks, the cooperative pool must not.
        let (acknowledged, lines, killed) = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Self.readAcknowledgements(from: output, killing: process))
            }
        }
        process.waitUntilExit()
        #expect(killed)
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(lines >= 400)

        let store = try HubStore(path: database, now: 0)
        defer { store.close() }
        #expect(try await store.integrityCheck() == "ok")
        let stored = Dictionary(uniqueKeysWithValues: try await store.allShadows().map { ($0.id.thingName, $0.record) })
        for (writer, version) in acknowledged {
            let record = try #require(stored[writer], "\(writer) acknowledged version \(version) but is missing")
            #expect(record.version >= version, "\(writer): acknowledged \(version), stored \(record.version)")
            // The document is whole and agrees with its version column.
            #expect(record.reported?["sequence"] == .integer(record.version))
        }
    }

    /// Collects `ack WRITER VERSION` lines until EOF, sending SIGKILL after a few hundred.
    static func readAcknowledgements(from pipe: Pipe, killing process: Process) -> ([String: Int64], Int, Bool) {
        var acknowledged: [String: Int64] = [:]
        var lines = 0
        var killed = false
        var buffer = Data()
        let killAfter = 400 + Int.random(in: 0..<200)
        while true {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            while let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                let fields = line.split(separator: " ")
                if fields.count == 3, fields[0] == "ack", let version = Int64(fields[2]) {
                    acknowledged[String(fields[1])] = max(acknowledged[String(fields[1])] ?? 0, version)
                    lines += 1
                }
            }
            if !killed && lines >= killAfter {
                kill(process.processIdentifier, SIGKILL)
                killed = true
            }
        }
        return (acknowledged, lines, killed)
    }
}
