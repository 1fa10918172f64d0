/// What happens to a command: the pure state machine of the ledger.
///
///     QUEUED → SENT → RUNNING → SUCCEEDED | FAILED
///     QUEUED → EXPIRED (not delivered before its TTL) | CANCELED | REJECTED
///     SENT, RUNNING → TIMED_OUT (no heartbeat within heartbeat × allowed misses, or past the
///                     overall timeout) | CANCELED
///
/// Every transition carries a time and a reason. Nothing leaves a final state: a result that
/// arrives after TIMED_OUT is recorded as `lateResult` and changes nothing.
public enum CommandEvent: Sendable, Equatable {
    /// The device (or plugin) took the command.
    case delivered
    /// The device refused it (invalid for its state, e.g. unlock while jammed).
    case refused(reason: String)
    /// The hub refused it before delivery: its parameters break the command's schema.
    case invalidParameters(reason: String)
    /// The hub gave up on a delivered command it can no longer follow (it restarted while a
    /// plugin ran it); `code` is the transition's reason code.
    case abandoned(code: String, message: String)
    /// RUNNING heartbeat, with optional progress (0–100) and message.
    case progress(percent: Double?, message: String?)
    case succeeded(message: String?, result: JSONValue?)
    case failed(message: String?, result: JSONValue?)
    case cancel(by: String)
    /// Time passes: deadlines are checked.
    case tick
}

/// What the hub must do because of a transition.
public enum CommandAction: Sendable, Equatable {
    /// Tell the device to stop (a cancel while it runs).
    case cancelOnDevice
    /// The command reached a final state: take it off the device's queue (and, for MQTT
    /// devices, out of `desired.command`).
    case finished
}

extension Command {
    /// Applies `event` at `now` (epoch ms); returns the actions the transition calls for.
    @discardableResult
    public mutating func apply(_ event: CommandEvent, at now: Int64) -> [CommandAction] {
        if state.isFinal {
            switch event {
            case .succeeded(let message, let result), .failed(let message, let result):
                lateResult = [
                    "status": .string(event.isSuccess ? "SUCCEEDED" : "FAILED"), "at": .integer(now),
                    "message": message.map(JSONValue.string) ?? .null, "result": result ?? .null,
                ]
                updatedAt = now
            default:
                break
            }
            return []
        }
        switch (state, event) {
        case (.queued, .delivered):
            guard now <= deliverBy else {
                return enter(.expired, at: now, reason: "ttl_expired: not delivered within the TTL")
            }
            finishBy = now + timeoutMilliseconds
            heartbeatBy = now + heartbeatMilliseconds * allowedMisses
            return enter(.sent, at: now, reason: "delivered")
        case (.queued, .refused(let reason)), (.sent, .refused(let reason)):
            message = reason
            return enter(.rejected, at: now, reason: "refused: \(reason)")
        case (.queued, .invalidParameters(let reason)):
            message = reason
            return enter(.rejected, at: now, reason: "invalid_parameters: \(reason)")
        case (.sent, .abandoned(let code, let text)), (.running, .abandoned(let code, let text)):
            message = text
            return enter(.failed, at: now, reason: code)
        case (.sent, .progress(let percent, let text)), (.running, .progress(let percent, let text)):
            progress = percent ?? progress
            message = text ?? message
            heartbeatBy = now + heartbeatMilliseconds * allowedMisses
            updatedAt = now
            if state == .sent { return enter(.running, at: now, reason: "heartbeat") }
            return []
        case (.sent, .succeeded(let text, let value)), (.running, .succeeded(let text, let value)):
            message = text ?? message
            result = value
            progress = 100
            return enter(.succeeded, at: now, reason: "device reported success")
        case (.sent, .failed(let text, let value)), (.running, .failed(let text, let value)):
            message = text ?? message
            result = value
            return enter(.failed, at: now, reason: "device reported failure" + (text.map { ": \($0)" } ?? ""))
        case (.queued, .cancel(let who)):
            return enter(.canceled, at: now, reason: "canceled by \(who) before delivery")
        case (.sent, .cancel(let who)), (.running, .cancel(let who)):
            return [.cancelOnDevice] + enter(.canceled, at: now, reason: "canceled by \(who)")
        case (.queued, .tick):
            if now > deliverBy { return enter(.expired, at: now, reason: "ttl_expired: not delivered within the TTL") }
            return []
        case (.sent, .tick), (.running, .tick):
            if let finishBy, now > finishBy {
                return enter(.timedOut, at: now, reason: "timeout: no result within \(timeoutMilliseconds) ms")
            }
            if let heartbeatBy, now > heartbeatBy {
                return enter(
                    .timedOut, at: now,
                    reason: "heartbeat_missed: nothing heard for \(heartbeatMilliseconds * allowedMisses) ms")
            }
            return []
        default:
            return []
        }
    }

    private mutating func enter(_ next: CommandState, at now: Int64, reason: String) -> [CommandAction] {
        state = next
        updatedAt = now
        transitions.append(CommandTransition(state: next, at: now, reason: reason))
        if next.isFinal {
            heartbeatBy = nil
            return [.finished]
        }
        return []
    }

    /// When the next deadline falls (for the timer), or nil for a final command.
    public var nextDeadline: Int64? {
        switch state {
        case .queued: return deliverBy
        case .sent, .running: return [finishBy, heartbeatBy].compactMap { $0 }.min()
        default: return nil
        }
    }
}

extension CommandEvent {
    var isSuccess: Bool {
        if case .succeeded = self { return true }
        return false
    }
}
