internal import CSpawn
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with `posix_spawn` in a process group of its own, so that stopping
/// it reaches everything it started. Its exit is noticed by a thread blocked in `waitpid`, never
/// by a task on the cooperative pool.
///
/// Hand-written rather than Foundation's `Process` (which brings ICU into every binary that
/// uses it) or swift-subprocess (whose run-to-completion API does not fit supervised, long-lived
/// children that need their process group signalled).
public final class ChildProcess: Sendable {
    public struct Exit: Sendable, Equatable, CustomStringConvertible {
        /// The exit status, when the process exited.
        public var status: Int32?
        /// The signal, when a signal ended the process.
        public var signal: Int32?

        public var description: String {
            if let signal { return "killed by signal \(signal)" }
            return "exited with status \(status ?? -1)"
        }
    }

    public let pid: Int32
    public let executable: String
    private let exitState = Mutex<(exit: Exit?, waiters: [CheckedContinuation<Exit, Never>])>((nil, []))

    /// Starts `executable` with `arguments`. Standard input, output and error are the given
    /// descriptors (nil: inherit, for stdin `/dev/null`).
    public init(
        executable: String, arguments: [String], environment: [String]? = nil,
        standardInput: Int32? = nil, standardOutput: Int32? = nil, standardError: Int32? = nil
    ) throws(ProcessError) {
        self.executable = executable
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        sigaddset(&defaultSignals, SIGPIPE)
        sigaddset(&defaultSignals, SIGTERM)
        sigaddset(&defaultSignals, SIGINT)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let standardInput {
            posix_spawn_file_actions_adddup2(&actions, standardInput, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        if let standardOutput { posix_spawn_file_actions_adddup2(&actions, standardOutput, 1) }
        if let standardError { posix_spawn_file_actions_adddup2(&actions, standardError, 2) }
        homehub_spawn_close_from(&actions, 3)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let environmentStrings = environment ?? ChildProcess.currentEnvironment()
        let envp = environmentStrings.map { strdup($0) } + [nil]
        defer { for pointer in envp { free(pointer) } }

        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            throw ProcessError(
                message: "cannot start \(executable): \(String(cString: strerror(status)))", errorNumber: status)
        }
        self.pid = pid
        let childPID = pid
        let thread = DispatchQueue(label: "homehub.process.wait.\(pid)")
        thread.async { [self] in
            var status: Int32 = 0
            while waitpid(childPID, &status, 0) == -1 && errno == EINTR {}
            let exit: Exit
            if status & 0x7F == 0 {
                exit = Exit(status: (status >> 8) & 0xFF, signal: nil)
            } else {
                exit = Exit(status: nil, signal: status & 0x7F)
            }
            let waiters = exitState.withLock { state in
                state.exit = exit
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: exit) }
        }
    }

    /// The exit, once the process has ended.
    public var exit: Exit? { exitState.withLock { $0.exit } }

    /// Waits for the process to end.
    public func waitForExit() async -> Exit {
        await withCheckedContinuation { continuation in
            let done = exitState.withLock { state -> Exit? in
                if let exit = state.exit { return exit }
                state.waiters.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    /// Sends `signal` to the child's whole process group.
    public func signalGroup(_ signal: Int32) {
        guard exit == nil else { return }
        kill(-pid, signal)
    }

    /// SIGTERM to the group, then SIGKILL if it has not ended within `graceSeconds`.
    public func terminate(graceSeconds: Double = 5) async -> Exit {
        signalGroup(SIGTERM)
        let killer = DispatchWorkItem { [self] in signalGroup(SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + graceSeconds, execute: killer)
        let exit = await waitForExit()
        killer.cancel()
        // Whatever the child left behind in its group goes too.
        kill(-pid, SIGKILL)
        return exit
    }

    /// This process's environment without what systemd hands the service itself
    /// (`NOTIFY_SOCKET`, `LISTEN_*`, `WATCHDOG_*`): only homehubd talks to systemd, and a child
    /// that inherited them would send notifications systemd refuses (and logs).
    public static func environmentWithoutSystemd() -> [String] {
        currentEnvironment().filter {
            !$0.hasPrefix("NOTIFY_SOCKET=") && !$0.hasPrefix("LISTEN_") && !$0.hasPrefix("WATCHDOG_")
        }
    }

    public static func currentEnvironment() -> [String] {
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(String(cString: entry))
            pointer += 1
        }
        return result
    }
}

public struct ProcessError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var errorNumber: Int32
    public var description: String { message }

    public init(message: String, errorNumber: Int32) {
        self.message = message
        self.errorNumber = errorNumber
    }
}
