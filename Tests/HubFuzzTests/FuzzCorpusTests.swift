import Dispatch
import HubFuzz
import HubProcess
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Every saved fuzz input — the seeds (Tests/Fuzz/corpus) and the inputs that once crashed
/// (Tests/Fuzz/regressions) — runs through its target's properties on every `make test`.
@Suite struct FuzzCorpusTests {
    static let root: String = {
        // …/Tests/HubFuzzTests/FuzzCorpusTests.swift → …/Tests/Fuzz
        let parts = #filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(2)
        return parts.joined(separator: "/") + "/Fuzz"
    }()

    @Test(arguments: FuzzTarget.allCases)
    func savedInputsHoldTheProperties(_ target: FuzzTarget) async throws {
        let seeds = FuzzCorpus.files(at: "\(Self.root)/corpus/\(target.rawValue)")
        let regressions = FuzzCorpus.files(at: "\(Self.root)/regressions/\(target.rawValue)")
        #expect(seeds.count >= 5, "the \(target.rawValue) corpus has \(seeds.count) seeds")
        FuzzProperty.collectViolations()
        var inputs: [[UInt8]] = []
        for file in seeds + regressions {
            inputs.append(try #require(FileContents.read(file), "cannot read \(file)"))
        }
        // The HTTP target's hub lives in a directory of this test's, removed at the end (the
        // test process does not run exit handlers).
        var template = Array("/tmp/homehub-fuzz-test.XXXXXX".utf8CString)
        let scratch = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer { _ = system("rm -rf '\(scratch)'") }
        if target == .http { setenv("HOMEHUB_FUZZ_TMPDIR", scratch, 1) }
        // The targets block their thread as libFuzzer's does (the HTTP one waits for the hub's
        // tasks): run them on a thread of their own, not on the test's cooperative pool.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue(label: "homehub.fuzz.\(target.rawValue)").async { [inputs] in
                for input in inputs { target.run(input) }
                done.resume()
            }
        }
        let violations = FuzzProperty.takeViolations()
        #expect(violations.isEmpty, "\(violations.joined(separator: "\n"))")
    }
}
