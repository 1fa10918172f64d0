/// Splits a byte stream into newline-terminated lines, with a limit on a line's length: the
/// framing of the plugin protocol, on both ends (the hub's reader of a plugin's stdout, the
/// plugin kit's reader of stdin). Pure: the reader feeds it what `read(2)` returned; the fuzzer
/// feeds it anything.
public struct LineFramer: Sendable {
    public enum Event: Sendable, Equatable {
        case line([UInt8])
        /// A line longer than the limit: the plugin is broken. The rest of that line is dropped.
        case lineTooLong(Int)
    }

    public let maxLineBytes: Int
    private var pending: [UInt8] = []
    private var discarding = false

    public init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

    /// Takes the next chunk of output; calls `deliver` for each complete line or overflow.
    public mutating func feed(_ chunk: some Collection<UInt8>, deliver: (Event) -> Void) {
        var rest = chunk[...]
        while let newline = rest.firstIndex(of: 0x0A) {
            if !discarding {
                pending.append(contentsOf: rest[..<newline])
                if pending.count > maxLineBytes {
                    deliver(.lineTooLong(pending.count))
                } else {
                    deliver(.line(pending))
                }
            }
            pending.removeAll(keepingCapacity: true)
            discarding = false
            rest = rest[rest.index(after: newline)...]
        }
        guard !discarding else { return }
        pending.append(contentsOf: rest)
        if pending.count > maxLineBytes {
            deliver(.lineTooLong(pending.count))
            pending.removeAll()
            discarding = true
        }
    }
}
