import Synchronization

/// A property a fuzz target checks. Under libFuzzer a violation must crash, so that libFuzzer
/// saves the input; replayed by `make test` (FuzzCorpusTests) it is collected instead, so that
/// one broken property fails its test rather than killing the whole test run.
public enum FuzzProperty {
    /// nil: crash on a violation (libFuzzer); a list: collect them (the replay test).
    private static let collected = Mutex<[String]?>(nil)

    public static func collectViolations() { collected.withLock { $0 = $0 ?? [] } }

    public static func takeViolations() -> [String] {
        collected.withLock { state in
            defer { if state != nil { state = [] } }
            return state ?? []
        }
    }

    static func check(
        _ holds: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line
    ) {
        guard !holds else { return }
        let text = "\(file):\(line): property violated: \(message())"
        let kept = collected.withLock { state -> Bool in
            guard state != nil else { return false }
            state?.append(text)
            return true
        }
        if !kept { fatalError(text) }
    }
}
