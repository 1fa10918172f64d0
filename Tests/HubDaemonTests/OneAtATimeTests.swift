import Synchronization
import Testing

@testable import HubDaemon

@Suite struct OneAtATimeTests {
    final class Overlap: Sendable {
        let state = Mutex((now: 0, most: 0, done: 0))
    }

    /// Bodies that suspend in the middle never overlap, and all of them run.
    @Test func bodiesRunOneAtATimeAcrossTheirAwaits() async {
        let gate = OneAtATime()
        let overlap = Overlap()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    await gate.run {
                        overlap.state.withLock {
                            $0.now += 1
                            $0.most = max($0.most, $0.now)
                        }
                        await Task.yield()
                        await Task.yield()
                        overlap.state.withLock {
                            $0.now -= 1
                            $0.done += 1
                        }
                    }
                }
            }
        }
        let result = overlap.state.withLock { $0 }
        #expect(result.most == 1, "two bodies ran at once")
        #expect(result.done == 50)
    }
}
