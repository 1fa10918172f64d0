import Dispatch
import HubCore
import HubProcess
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A plugin's child process and its three pipes. Lines from stdout arrive on ``lines``; stderr
/// lines go to `onStderr`. Reading and writing happen on the process's own dispatch threads
/// (blocking `read` and `write`): nothing here blocks the cooperative pool.
///
/// Bounds: ``lines`` holds at most 256 lines — beyond, the reader thread waits and the plugin's
/// pipe fills, so a plugin cannot outrun the hub; and at most ``maxQueuedInputBytes`` of the
/// hub's messages wait to be written — beyond, the plugin is not reading and ``send(_:)``
/// says so (the supervisor then treats it as hung).
final class PluginProcess: Sendable {
    /// A line of stdout, or a line over the limit (the plugin is broken). The sequence ends
    /// when stdout closes (the process is ending).
    typealias Event = LineFramer.Event

    static let maxQueuedInputBytes = 1 << 20

    let child: ChildProcess
    let lines: ThreadInbox<Event>
    /// Our end of the plugin's stdin (-1 once closed) and the bytes queued for it.
    private let input: Mutex<(fd: Int32, queued: Int)>
    private let writer: DispatchQueue

    init(
        executable: String, arguments: [String], environment: [String], maxLineBytes: Int,
        onStderr: @escaping @Sendable (String) -> Void
    ) throws {
        var stdinPipe: [Int32] = [0, 0]
        var stdoutPipe: [Int32] = [0, 0]
        var stderrPipe: [Int32] = [0, 0]
        guard pipe(&stdinPipe) == 0, pipe(&stdoutPipe) == 0, pipe(&stderrPipe) == 0 else {
            throw ProcessError(message: "cannot create pipes: \(String(cString: strerror(errno)))", errorNumber: errno)
        }
        // Our ends must not leak into other children (posix_spawn's dup2 clears the flag on 0–2).
        for fd in stdinPipe + stdoutPipe + stderrPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        do {
            child = try ChildProcess(
                executable: executable, arguments: arguments, environment: environment, standardInput: stdinPipe[0],
                standardOutput: stdoutPipe[1], standardError: stderrPipe[1])
        } catch {
            for fd in stdinPipe + stdoutPipe + stderrPipe { close(fd) }
            throw error
        }
        close(stdinPipe[0])
        close(stdoutPipe[1])
        close(stderrPipe[1])
        input = Mutex((stdinPipe[1], 0))
        writer = DispatchQueue(label: "homehub.plugin.stdin.\(child.pid)")
        let inbox = ThreadInbox<Event>(capacity: 256)
        lines = inbox
        let stdoutFD = stdoutPipe[0]
        let stderrFD = stderrPipe[0]
        DispatchQueue(label: "homehub.plugin.stdout.\(child.pid)").async {
            Self.readLines(stdoutFD, maxLineBytes: maxLineBytes) { event in inbox.put(event) }
            inbox.finish()
            close(stdoutFD)
        }
        DispatchQueue(label: "homehub.plugin.stderr.\(child.pid)").async {
            Self.readLines(stderrFD, maxLineBytes: 16 * 1024) { event in
                if case .line(let bytes) = event { onStderr(String(decoding: bytes, as: UTF8.self)) }
            }
            close(stderrFD)
        }
    }

    /// Queues one line for the plugin's stdin and returns at once; false when the plugin's
    /// input is closed or it has left ``maxQueuedInputBytes`` unread (it is not reading).
    func send(_ line: [UInt8]) -> Bool {
        let bytes = line + [0x0A]
        let count = bytes.count
        let accepted = input.withLock { state in
            guard state.fd >= 0, state.queued + count <= Self.maxQueuedInputBytes else { return false }
            state.queued += count
            return true
        }
        guard accepted else { return false }
        writer.async { [self] in
            let fd = input.withLock { $0.fd }
            if fd >= 0 && !Self.writeAll(fd, bytes) {
                closeInput()  // the plugin closed its end: nothing more reaches it
            }
            input.withLock { $0.queued -= count }
        }
        return true
    }

    /// A blocking write of every byte (on the writer thread); false when the pipe is closed.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }

    /// Closes stdin once what is queued has been written (the plugin sees end of input).
    func closeInputAfterQueued() {
        writer.async { [self] in closeInput() }
    }

    /// Closes stdin: nothing more is written, and the descriptor itself is closed on the writer
    /// queue, after any write in progress — closing it here could let a write that already read
    /// the number land in whatever file reuses it.
    func closeInput() {
        let fd = input.withLock { state in
            defer { state.fd = -1 }
            return state.fd
        }
        guard fd >= 0 else { return }
        writer.async { close(fd) }
    }

    deinit { closeInput() }

    static func readLines(_ fd: Int32, maxLineBytes: Int, deliver: (Event) -> Void) {
        var framer = LineFramer(maxLineBytes: maxLineBytes)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
            framer.feed(buffer[..<count], deliver: deliver)
        }
    }
}
