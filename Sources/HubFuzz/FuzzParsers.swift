import HubCore
import HubPlugins
import HubProcess

/// The text formats: manifests, plugin output, cron, weekly programs, TOML.
enum FuzzParsers {
    static func manifest(_ bytes: [UInt8]) {
        do {
            let manifest = try PluginManifest(json: bytes, source: "fuzz/manifest.json")
            FuzzProperty.check(!manifest.id.isEmpty, "a manifest was accepted with an empty id")
            for type in manifest.deviceTypes {
                // Every declared type describes itself in JSON the hub can read back.
                JSONProperties.roundTrips(PluginManager.describe(type), "device type \(type.name)")
            }
        } catch {
            FuzzProperty.check(
                error.message.hasPrefix("fuzz/manifest.json"), "a manifest error that names no file: \(error)")
        }
    }

    /// The first byte sets the read size (1–256), as `read(2)` would cut the stream; the limit is
    /// 64 bytes. Every byte is either in a delivered line or counted in an overflow.
    static func pluginLine(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let chunk = Int(first) + 1
        let stream = Array(bytes.dropFirst())
        var framer = LineFramer(maxLineBytes: 64)
        var lines: [[UInt8]] = []
        var overflowed = false
        var start = 0
        while start < stream.count {
            let end = min(start + chunk, stream.count)
            framer.feed(stream[start..<end]) { event in
                switch event {
                case .line(let line):
                    FuzzProperty.check(line.count <= 64, "a \(line.count)-byte line passed the 64-byte limit")
                    FuzzProperty.check(!line.contains(0x0A), "a delivered line contains a newline")
                    lines.append(line)
                case .lineTooLong(let size):
                    FuzzProperty.check(size > 64, "an overflow of \(size) bytes, within the limit")
                    overflowed = true
                }
            }
            start = end
        }
        if !overflowed {
            // Without overflow, the lines are exactly the stream's complete lines.
            let complete = stream.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast().map(Array.init)
            FuzzProperty.check(lines == complete, "lines framed differently from the stream")
        }
        for line in lines {
            if let message = try? PluginMessage(line: line), case .call(_, let params, _) = message {
                JSONProperties.roundTrips(params, "plugin call params")
            }
        }
    }

    static let berlin: TimeZoneRules = {
        let path = "/usr/share/zoneinfo/Europe/Berlin"
        guard let bytes = FileContents.read(path), let rules = try? TimeZoneRules(name: "Europe/Berlin", tzif: bytes)
        else { return .utc }
        return rules
    }()

    /// Instants around the 2027 spring and autumn changes, and an ordinary one.
    static let starts: [Int64] = [1_806_100_000, 1_824_850_000, 1_800_000_000]

    static func cron(_ bytes: [UInt8]) {
        guard let expression = try? CronExpression(String(decoding: bytes, as: UTF8.self)) else { return }
        for zone in [TimeZoneRules.utc, berlin] {
            for start in starts {
                let firings = expression.firings(after: start, count: 3, in: zone)
                var previous = start
                for firing in firings {
                    FuzzProperty.check(
                        firing.instant > previous, "cron '\(expression.text)' fired at or before \(previous)")
                    previous = firing.instant
                    if zone.name == "UTC" {
                        FuzzProperty.check(
                            expression.matches(date: firing.scheduled), "cron '\(expression.text)' fired off-pattern")
                    }
                }
            }
        }
    }

    static func program(_ bytes: [UInt8]) {
        guard let program = try? WeeklyProgram(String(decoding: bytes, as: UTF8.self)) else { return }
        for zone in [TimeZoneRules.utc, berlin] {
            for start in starts {
                var previous = start
                for (firing, patch) in program.transitions(after: start, count: 3, in: zone) {
                    FuzzProperty.check(firing.instant > previous, "program fired at or before \(previous)")
                    FuzzProperty.check(
                        Set(patch.keys).isSubset(of: program.attributes), "a transition sets unknown keys")
                    previous = firing.instant
                }
                _ = program.inForce(at: start, in: zone)
            }
        }
    }

    static func toml(_ bytes: [UInt8]) {
        do {
            let table = try TOML.parse(String(decoding: bytes, as: UTF8.self))
            JSONProperties.roundTrips(TOMLValue.table(table).json, "TOML as JSON")
        } catch {
            FuzzProperty.check(error.line >= 1 && error.column >= 1, "a TOML error without a position: \(error)")
        }
    }
}
