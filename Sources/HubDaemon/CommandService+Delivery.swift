import AsyncAlgorithms
import HubCore
import HubPlugins
import HubStore
import Logging
import ServiceLifecycle

/// Delivery: one command at a time per device, in order — to a plugin by `command.execute`, to
/// an MQTT device through the shadow's `desired.command`.
extension CommandService {
    /// Delivers the oldest queued command of `thing` if nothing else runs there.
    func dispatch(thing: String) async {
        let mine = active.values.filter { $0.thing == thing }.sorted { $0.id < $1.id }
        guard let head = mine.first else { return }
        // One at a time, in order: the head is running, being delivered, or waiting for a retry.
        if head.state != .queued || delivering.contains(head.id) || published.contains(head.id) { return }
        if let retry = nextRetry[head.id], retry > clock.epochMilliseconds() { return }
        if head.delivery == "mqtt" {
            await publishDesired(thing: thing, adding: head)
        } else {
            await deliverToPlugin(head)
        }
    }

    func deliverToPlugin(_ command: Command) async {
        guard let type = shadows.registry.deviceType(of: command.thing) else {
            logger.warning("command for a thing without a device type", metadata: ["command.id": "\(command.id)"])
            return
        }
        logger.debug("delivering command", metadata: ["command.id": "\(command.id)", "device.type": "\(type.name)"])
        delivering.insert(command.id)
        let params: JSONValue = [
            "commandId": .string(command.id), "thing": .string(command.thing), "command": .string(command.name),
            "parameters": .object(command.parameters),
            "heartbeatSeconds": .number(JSONNumber(Double(command.heartbeatMilliseconds) / 1000)),
            "deadline": .integer(command.createdAt + command.timeoutMilliseconds),
        ]
        let outcome: Result<JSONValue, PluginSupervisor.Failure>
        do {
            outcome = .success(try await plugins.request(type: type.name, "command.execute", params))
        } catch let failure as PluginSupervisor.Failure {
            outcome = .failure(failure)
        } catch {
            outcome = .failure(PluginSupervisor.Failure(description: "\(error)"))
        }
        delivering.remove(command.id)
        // Re-read after the await: a result, cancel or tick may have moved it meanwhile.
        guard var current = active[command.id], current.state == .queued else { return }
        let now = clock.epochMilliseconds()
        switch outcome {
        case .success(let answer):
            // (apply first: an argument list would pass the copy from before the transition)
            let actions: [CommandAction]
            if answer["accepted"] == false {
                actions = current.apply(
                    .refused(reason: answer["reason"]?.stringValue ?? "the device refused"), at: now)
            } else {
                actions = current.apply(.delivered, at: now)
            }
            await update(current, actions: actions)
        case .failure(let failure) where !failure.sent || current.idempotent:
            // Never reached the plugin (or safe to repeat): try again shortly, until the TTL.
            nextRetry[current.id] = now + 500
            logger.info("command not delivered yet: \(failure)", metadata: ["command.id": "\(current.id)"])
        case .failure(let failure):
            // It may have reached the plugin: a command that is not idempotent is never sent twice.
            var actions = current.apply(.delivered, at: now)
            actions += current.apply(
                .failed(
                    message: "delivery uncertain (\(failure)); not retried because '\(current.name)' is not idempotent",
                    result: nil),
                at: now)
            await update(current, actions: actions)
        }
    }

    /// The MQTT pattern: the device's commands live in `desired.command`; this rewrites that
    /// array to hold exactly the thing's published, unfinished commands.
    func publishDesired(thing: String, adding command: Command?) async {
        if let command { published.insert(command.id) }
        let entries: [JSONValue] = active.values
            .filter { $0.thing == thing && published.contains($0.id) && !$0.state.isFinal }
            .sorted { $0.id < $1.id }
            .map { entry in
                [
                    "commandId": .string(entry.id), "command": .string(entry.name),
                    "parameters": .object(entry.parameters),
                    "ttl": .integer(entry.deliverBy / 1000),
                    "heartbeatSeconds": .number(JSONNumber(Double(entry.heartbeatMilliseconds) / 1000)),
                ]
            }
        let payload: JSONValue = [
            "state": ["desired": ["command": entries.isEmpty ? .null : .array(entries)]],
            "clientToken": .string("commands:\(thing)"),
        ]
        let result = await shadows.perform(
            .init(.update, ShadowID(unchecked: thing, shadowName: nil), payload: payload.compactBytes),
            origin: .command,
            by: .hub
        )
        if case .failure(let error) = result {
            logger.error("cannot write desired.command", metadata: ["device.id": "\(thing)", "error": "\(error)"])
        }
    }
}
