import Dispatch
import HubCore
import HubPluginKit
import HubProcess
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A plugin busy with a slow start or a slow device still answers pings: the kit answers them
/// from the thread that reads stdin, before the message loop.
@Suite struct PingTests {
    @Test func aPingIsAnsweredWhileTheMessageLoopTakesNothing() async throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let (answers, answer) = AsyncStream.makeStream(of: JSONValue.self)
        let host = PluginHost { bytes in answer.yield((try? JSONParser().parse(bytes)) ?? .null) }
        // Nobody reads this inbox: the plugin is busy.
        let inbox = ThreadInbox<[UInt8]>(capacity: 4)
        let readEnd = fds[0]
        DispatchQueue(label: "test.pluginkit.stdin").async { PluginRunner.readInput(readEnd, host: host, into: inbox) }
        let lines =
            #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"# + "\n"
            + #"{"jsonrpc":"2.0","id":7,"method":"ping"}"# + "\n"
        _ = Array(lines.utf8).withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
        var iterator = answers.makeAsyncIterator()
        let pong = await iterator.next()
        #expect(pong?["id"] == 7 && pong?["result"] == "pong")
        close(fds[1])  // end of input
        var queued: [String] = []
        for await line in inbox { queued.append(String(decoding: line, as: UTF8.self)) }
        #expect(queued.count == 1 && queued.first?.contains("initialize") == true, "the ping was not queued")
        close(readEnd)
    }
}
