import HubCore
import HubProcess
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The system's IANA zones (`$TZDIR`, else `/usr/share/zoneinfo`, from Debian's tzdata), read
/// once each, and the name of the system's own zone.
final class TimeZoneDatabase: Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let directory: String
    private let cache = Mutex<[String: TimeZoneRules]>([:])

    init(directory: String? = nil) {
        if let directory {
            self.directory = directory
        } else if let tzdir = getenv("TZDIR"), tzdir.pointee != 0 {
            self.directory = String(cString: tzdir)
        } else {
            self.directory = "/usr/share/zoneinfo"
        }
    }

    /// The zone called `name` (`Europe/Berlin`, `UTC`), or why there is none.
    func zone(_ name: String) throws(Failure) -> TimeZoneRules {
        if let cached = cache.withLock({ $0[name] }) { return cached }
        let allowed = name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || "/_+-".unicodeScalars
                    .contains($0)
        }
        guard !name.isEmpty, allowed, !name.hasPrefix("/"), !name.split(separator: "/").contains("..") else {
            throw Failure(description: "time zone '\(name)' is not an IANA zone name (e.g. Europe/Berlin)")
        }
        guard let bytes = FileContents.read("\(directory)/\(name)", limit: 1 << 20) else {
            if name == "UTC" || name == "Etc/UTC" { return .utc }
            throw Failure(
                description: "time zone '\(name)' is not known: no file \(directory)/\(name) (is tzdata installed?)")
        }
        do throws(TimeZoneRules.Failure) {
            let rules = try TimeZoneRules(name: name, tzif: bytes)
            cache.withLock { $0[name] = rules }
            return rules
        } catch {
            throw Failure(description: "time zone '\(name)': \(error.description)")
        }
    }

    /// The system's zone name: `TZ`, else the target of `/etc/localtime`, else `/etc/timezone`,
    /// else UTC.
    static func systemZoneName() -> String {
        if let tz = getenv("TZ"), tz.pointee != 0 {
            let name = String(cString: tz)
            return name.hasPrefix(":") ? String(name.dropFirst()) : name
        }
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/etc/localtime", &buffer, buffer.count - 1)
        if count > 0 {
            let target = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let parts = target.split(separator: "/", omittingEmptySubsequences: false)
            if let at = parts.lastIndex(of: "zoneinfo"), at + 1 < parts.count {
                return parts[(at + 1)...].joined(separator: "/")
            }
        }
        if let text = FileContents.text("/etc/timezone") {
            let name = text.trimmingPrefix(while: \.isWhitespace).prefix { !$0.isWhitespace }
            if !name.isEmpty { return String(name) }
        }
        return "UTC"
    }
}
