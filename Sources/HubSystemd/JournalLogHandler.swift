import CSystemd
public import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Structured records for journald through libsystemd's `sd_journal_sendv`: MESSAGE, PRIORITY,
/// SYSLOG_IDENTIFIER, the code location, and every metadata key as a field of its own — the
/// well-known ones under short names (DEVICE, PLUGIN, COMMAND_ID, SCHEDULE_ID), the rest
/// upper-cased with `_` for anything journald does not allow (`mqtt.mode` → `MQTT_MODE`).
///
/// `journalctl -u homehubd DEVICE=frontdoor` then finds what concerns one device.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let identifier: String

    public init(identifier: String) {
        self.identifier = identifier
    }

    /// Whether stderr is the journal (systemd set `JOURNAL_STREAM` to its device and inode).
    public static var stderrIsJournal: Bool {
        guard let value = getenv("JOURNAL_STREAM") else { return false }
        let parts = String(cString: value).split(separator: ":")
        var status = stat()
        guard parts.count == 2, fstat(2, &status) == 0 else { return false }
        return UInt64(parts[0]) == UInt64(status.st_dev) && UInt64(parts[1]) == UInt64(status.st_ino)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        // A child's lines (metadata `source`, e.g. mosquitto's stderr) carry the child's name, as
        // `journalctl -t mosquitto` expects.
        let source = merged["source"].map { "\($0)" } ?? identifier
        var fields = [
            "MESSAGE=\(event.message)", "PRIORITY=\(Self.priority(event.level))", "SYSLOG_IDENTIFIER=\(source)",
            "CODE_FILE=\(event.file)", "CODE_LINE=\(event.line)", "CODE_FUNC=\(event.function)",
        ]
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            fields.append("\(Self.fieldName(key))=\(value)")
        }
        if let error = event.error { fields.append("ERROR=\(error)") }
        Self.send(fields)
    }

    /// syslog priorities: 2 critical … 7 debug.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    static let wellKnown: [String: String] = [
        "device.id": "DEVICE", "thing": "DEVICE", "plugin": "PLUGIN", "plugin.id": "PLUGIN",
        "command.id": "COMMAND_ID", "schedule.id": "SCHEDULE_ID",
    ]

    /// A journald field name: A–Z, 0–9 and `_`, not starting with `_` or a digit, at most 64.
    static func fieldName(_ key: String) -> String {
        if let known = wellKnown[key] { return known }
        var name = String(
            key.uppercased().unicodeScalars.map { scalar -> Character in
                ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) ? Character(scalar) : "_"
            })
        while name.hasPrefix("_") { name.removeFirst() }
        if name.isEmpty || name.first!.isNumber { name = "F_" + name }
        if ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC"].contains(name) {
            name = "META_" + name
        }
        return String(name.prefix(64))
    }

    static func send(_ fields: [String]) {
        let buffers = fields.map { Array($0.utf8) }
        var vectors: [iovec] = []
        vectors.reserveCapacity(buffers.count)
        func withAll(_ index: Int, _ body: ([iovec]) -> Void) {
            guard index < buffers.count else {
                body(vectors)
                return
            }
            buffers[index].withUnsafeBytes { raw in
                vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress), iov_len: raw.count))
                withAll(index + 1, body)
            }
        }
        withAll(0) { all in
            _ = all.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
    }
}
