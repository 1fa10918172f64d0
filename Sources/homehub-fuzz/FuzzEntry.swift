import HubFuzz
import HubProcess

#if HOMEHUB_LIBFUZZER
    import CLibFuzzer
#endif

#if canImport(Glibc)
    import Glibc
#endif

// Two ways to run a fuzz target (docs/fuzzing.md):
// - built with `-sanitize=fuzzer -D HOMEHUB_LIBFUZZER` (`make fuzz`), main hands over to
//   libFuzzer's driver, which calls the entry point below; HOMEHUB_FUZZ_TARGET names the target;
// - built normally, `homehub-fuzz TARGET FILE|DIR…` runs saved inputs once each, e.g. to
//   replay a crash libFuzzer found.

let selected: FuzzTarget = {
    let name = getenv("HOMEHUB_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        fatalError("HOMEHUB_FUZZ_TARGET must name a target: \(names) (it is '\(name)')")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selected.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

#if HOMEHUB_LIBFUZZER
    @main
    struct LibFuzzer {
        static func main() {
            _ = selected
            var argc = CommandLine.argc
            var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
            exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
        }
    }
#else
    @main
    struct Replay {
        static func main() {
            let arguments = Array(CommandLine.arguments.dropFirst())
            guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
                let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
                print("usage: homehub-fuzz \(names) FILE|DIR…  (replays saved inputs; make fuzz runs libFuzzer)")
                exit(2)
            }
            var count = 0
            for path in arguments.dropFirst() {
                for file in FuzzCorpus.files(at: path) {
                    guard let bytes = FileContents.read(file) else {
                        print("cannot read \(file)")
                        exit(1)
                    }
                    target.run(bytes)
                    count += 1
                }
            }
            print("\(target.rawValue): \(count) inputs ran without a crash")
        }
    }
#endif
