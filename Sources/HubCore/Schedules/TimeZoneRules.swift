/// An IANA time zone as the system's TZif file (`/usr/share/zoneinfo/…`) describes it: its
/// past transitions and, for the years after them, the POSIX rule in the file's footer.
/// Parsing is pure; reading the file is the caller's business.
public struct TimeZoneRules: Sendable {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public let name: String
    var transitions: [Int64] = []
    var transitionOffsets: [Int32] = []
    var initialOffset: Int32 = 0
    var rule: PosixRule?

    /// UTC: no offset, ever.
    public static let utc = TimeZoneRules(name: "UTC", fixedOffset: 0)

    public init(name: String, fixedOffset: Int32) {
        self.name = name
        self.initialOffset = fixedOffset
    }

    public init(name: String, tzif bytes: [UInt8]) throws(Failure) {
        self.name = name
        var reader = ByteReader(bytes: bytes)
        guard reader.take(4) == Array("TZif".utf8) else { throw Failure(description: "\(name): not a TZif file") }
        let version = reader.take(1).first ?? 0
        _ = reader.take(15)
        var counts = (0..<6).map { _ in Int(reader.uint32()) }
        if version >= UInt8(ascii: "2") {
            // Skip the 32-bit block; the 64-bit one follows with its own header.
            let (isutc, isstd, leap, time, type, chars) = (
                counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]
            )
            _ = reader.take(time * 5 + type * 6 + chars + leap * 8 + isstd + isutc)
            guard reader.take(4) == Array("TZif".utf8) else {
                throw Failure(description: "\(name): broken TZif v2 header")
            }
            _ = reader.take(16)
            counts = (0..<6).map { _ in Int(reader.uint32()) }
        }
        let (isutc, isstd, leap, time, type, chars) = (counts[0], counts[1], counts[2], counts[3], counts[4], counts[5])
        let wide = version >= UInt8(ascii: "2")
        let times = (0..<time).map { _ in wide ? reader.int64() : Int64(Int32(bitPattern: reader.uint32())) }
        let indices = (0..<time).map { _ in Int(reader.take(1).first ?? 0) }
        var offsets: [Int32] = []
        var isDST: [Bool] = []
        for _ in 0..<type {
            offsets.append(Int32(bitPattern: reader.uint32()))
            isDST.append((reader.take(1).first ?? 0) != 0)
            _ = reader.take(1)
        }
        _ = reader.take(chars + leap * (wide ? 12 : 8) + isstd + isutc)
        guard !reader.failed, !offsets.isEmpty else { throw Failure(description: "\(name): truncated TZif file") }
        transitions = times
        transitionOffsets = indices.map { $0 < offsets.count ? offsets[$0] : offsets[0] }
        initialOffset = offsets[isDST.firstIndex(of: false) ?? 0]
        if wide, reader.take(1) == [0x0A] {
            let footer = String(decoding: reader.rest.prefix { $0 != 0x0A }, as: UTF8.self)
            rule = PosixRule(footer)
        }
    }

    /// Seconds east of UTC at the instant `utc`.
    public func offset(at utc: Int64) -> Int32 {
        if let last = transitions.last, utc >= last, let rule {
            return rule.offset(at: utc)
        }
        guard let first = transitions.first, utc >= first else {
            return transitions.isEmpty ? (rule?.offset(at: utc) ?? initialOffset) : initialOffset
        }
        var low = 0
        var high = transitions.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if transitions[middle] <= utc { low = middle } else { high = middle - 1 }
        }
        return transitionOffsets[low]
    }

    /// The local civil time at `utc`.
    public func local(_ utc: Int64) -> CivilTime { CivilTime(seconds: utc + Int64(offset(at: utc))) }

    /// How a local time maps to an instant.
    public enum Resolution: Sendable, Equatable {
        /// The local time exists once.
        case exact(Int64)
        /// A DST change repeats it: the first occurrence.
        case repeated(first: Int64)
        /// A DST change skips it: the first valid instant after it.
        case skipped(nextValid: Int64)

        public var instant: Int64 {
            switch self {
            case .exact(let instant), .repeated(let instant), .skipped(let instant): return instant
            }
        }
    }

    public func resolve(_ local: CivilTime) -> Resolution {
        let seconds = local.seconds
        let offsets = Set([offset(at: seconds - 86_400), offset(at: seconds + 86_400), offset(at: seconds)])
        let matches = offsets.map { seconds - Int64($0) }.filter { Int64(offset(at: $0)) == seconds - $0 }.sorted()
        if matches.count > 1 { return .repeated(first: matches[0]) }
        if let only = matches.first { return .exact(only) }
        // In a gap: the earliest instant whose local time is at or after the wanted one.
        var low = seconds - Int64(offsets.max() ?? 0) - 1
        var high = seconds - Int64(offsets.min() ?? 0) + 1
        while low + 1 < high {
            let middle = (low + high) / 2
            if middle + Int64(offset(at: middle)) >= seconds { high = middle } else { low = middle }
        }
        return .skipped(nextValid: high)
    }
}

/// The POSIX TZ rule of a TZif footer, e.g. `CET-1CEST,M3.5.0,M10.5.0/3`.
struct PosixRule: Sendable {
    var standardOffset: Int32
    var daylightOffset: Int32?
    var start: (month: Int, week: Int, weekday: Int, time: Int32)?
    var end: (month: Int, week: Int, weekday: Int, time: Int32)?

    init?(_ text: String) {
        var scanner = Scanner(text)
        guard scanner.name() != nil, let standard = scanner.offset() else { return nil }
        standardOffset = -standard  // POSIX counts west of UTC as positive
        guard scanner.name() != nil else { return }
        daylightOffset = scanner.peekIsOffset ? -(scanner.offset() ?? 0) : standardOffset + 3600
        guard scanner.consume(","), let start = scanner.dateRule(), scanner.consume(","), let end = scanner.dateRule()
        else {
            daylightOffset = nil
            return
        }
        self.start = start
        self.end = end
    }

    func offset(at utc: Int64) -> Int32 {
        guard let daylightOffset, let start, let end else { return standardOffset }
        let year = CivilTime(seconds: utc + Int64(standardOffset)).year
        let begins = Self.instant(start, year: year, offsetBefore: standardOffset)
        let ends = Self.instant(end, year: year, offsetBefore: daylightOffset)
        let inDaylight = begins < ends ? (utc >= begins && utc < ends) : (utc < ends || utc >= begins)
        return inDaylight ? daylightOffset : standardOffset
    }

    /// `Mm.w.d/time` in `year`, as a UTC instant, with the local offset in force before it.
    static func instant(_ rule: (month: Int, week: Int, weekday: Int, time: Int32), year: Int, offsetBefore: Int32)
        -> Int64
    {
        let first = CivilTime.days(year: year, month: rule.month, day: 1)
        var day = 1 + (rule.weekday - CivilTime.weekday(days: first) + 7) % 7 + (rule.week - 1) * 7
        while day > CivilTime.daysIn(month: rule.month, year: year) { day -= 7 }
        return CivilTime.days(year: year, month: rule.month, day: day) * 86_400 + Int64(rule.time) - Int64(offsetBefore)
    }

    struct Scanner {
        let characters: [Character]
        var index = 0

        init(_ text: String) { characters = Array(text) }

        var peekIsOffset: Bool {
            index < characters.count
                && (characters[index].isNumber || characters[index] == "+" || characters[index] == "-")
        }

        mutating func consume(_ character: Character) -> Bool {
            guard index < characters.count, characters[index] == character else { return false }
            index += 1
            return true
        }

        mutating func name() -> String? {
            if consume("<") {
                let start = index
                while index < characters.count, characters[index] != ">" { index += 1 }
                defer { index += 1 }
                return String(characters[start..<index])
            }
            let start = index
            while index < characters.count, characters[index].isLetter { index += 1 }
            return index > start ? String(characters[start..<index]) : nil
        }

        mutating func number() -> Int? {
            let start = index
            while index < characters.count, characters[index].isNumber { index += 1 }
            return index > start ? Int(String(characters[start..<index])) : nil
        }

        /// `[+-]hh[:mm[:ss]]` in seconds.
        mutating func offset() -> Int32? {
            var sign: Int32 = 1
            if consume("-") { sign = -1 } else { _ = consume("+") }
            guard let hours = number() else { return nil }
            var seconds = Int32(hours) * 3600
            if consume(":"), let minutes = number() { seconds += Int32(minutes) * 60 }
            if consume(":"), let secs = number() { seconds += Int32(secs) }
            return sign * seconds
        }

        mutating func dateRule() -> (month: Int, week: Int, weekday: Int, time: Int32)? {
            guard consume("M"), let month = number(), consume("."), let week = number(), consume("."),
                let weekday = number()
            else { return nil }
            var time: Int32 = 7200
            if consume("/") { time = offset() ?? 7200 }
            return (month, week, weekday, time)
        }
    }
}

struct ByteReader {
    let bytes: [UInt8]
    var position = 0
    var failed = false

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func take(_ count: Int) -> [UInt8] {
        guard count >= 0, position + count <= bytes.count else {
            failed = true
            position = bytes.count
            return []
        }
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    mutating func uint32() -> UInt32 { take(4).reduce(0) { $0 << 8 | UInt32($1) } }
    mutating func int64() -> Int64 { Int64(bitPattern: take(8).reduce(0) { $0 << 8 | UInt64($1) }) }
    var rest: ArraySlice<UInt8> { bytes[position...] }
}
