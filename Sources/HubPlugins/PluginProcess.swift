import Dispatch
import HubProcess
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A plugin's child process and its three pipes. Lines from stdout arrive on ``lines``; stderr
/// lines go to `onStderr`. Reading happens on dispatch threads (blocking `read`), writing with
/// `write(2)` under a lock: nothing blocks the cooperative pool for long.
final class PluginProcess: Sendable {
    /// A line of stdout, or a line over the limit (the plugin is broken). The stream finishes
    /// when stdout closes (the process is ending).
    typealias Event = LineFramer.Event

    let child: ChildProcess
    let lines: AsyncStream<Event>
    private let input: Mutex<Int32>

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
        // Writes happen on actor threads: a plugin that stops reading must not block them.
        _ = fcntl(stdinPipe[1], F_SETFL, fcntl(stdinPipe[1], F_GETFL) | O_NONBLOCK)
        input = Mutex(stdinPipe[1])
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        lines = stream
        let stdoutFD = stdoutPipe[0]
        let stderrFD = stderrPipe[0]
        DispatchQueue(label: "homehub.plugin.stdout.\(child.pid)").async {
            Self.readLines(stdoutFD, maxLineBytes: maxLineBytes) { event in continuation.yield(event) }
            continuation.finish()
            close(stdoutFD)
        }
        DispatchQueue(label: "homehub.plugin.stderr.\(child.pid)").async {
            Self.readLines(stderrFD, maxLineBytes: 16 * 1024) { event in
                if case .line(let bytes) = event { onStderr(String(decoding: bytes, as: UTF8.self)) }
            }
            close(stderrFD)
        }
    }

    /// Writes one line; false when the plugin no longer reads (pipe closed, or full: a plugin
    /// that leaves 64 KiB of our messages unread is treated as hung).
    func send(_ line: [UInt8]) -> Bool {
        input.withLock { fd in
            guard fd >= 0 else { return false }
            var bytes = line
            bytes.append(0x0A)
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if written < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN && offset > 0 {
                        // Half a line is out: finish it, or the stream is corrupt. Wait briefly.
                        var pollfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                        if poll(&pollfd, 1, 1000) > 0 { continue }
                    }
                    return false
                }
                offset += written
            }
            return true
        }
    }

    /// Closes stdin (the plugin sees end of input).
    func closeInput() {
        input.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
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
