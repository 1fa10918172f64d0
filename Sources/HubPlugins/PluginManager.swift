public import HubCore
public import Logging

/// All plugins of the hub: discovery at start, one supervisor per plugin with an executable,
/// and routing of hub → plugin messages by device type.
public actor PluginManager {
    public nonisolated let plugins: [DiscoveredPlugin]
    public nonisolated let problems: [PluginProblem]
    /// Where plugins are looked for; listed again on every status request, so that a folder
    /// dropped in while the hub runs is reported at once.
    public nonisolated let directories: [String]
    let supervisors: [String: PluginSupervisor]
    /// Types bridges declared at run time (docs/plugins.md, hub API 2).
    public nonisolated let declared: DeclaredTypes
    let logger: Logger

    public init(
        discovered: (plugins: [DiscoveredPlugin], problems: [PluginProblem]), directories: [String],
        options: PluginHostOptions, delegate: any PluginHostDelegate, declared: DeclaredTypes = DeclaredTypes(),
        logger: Logger
    ) {
        self.declared = declared
        let (plugins, problems) = discovered
        self.directories = directories
        self.plugins = plugins
        self.problems = problems
        self.logger = logger
        var supervisors: [String: PluginSupervisor] = [:]
        for plugin in plugins where plugin.executablePath != nil {
            supervisors[plugin.manifest.id] = PluginSupervisor(
                plugin: plugin, options: options, delegate: delegate, logger: logger)
        }
        self.supervisors = supervisors
        for problem in problems {
            logger.error("plugin skipped: \(problem.reason)", metadata: ["plugin.dir": "\(problem.directory)"])
        }
        for plugin in plugins {
            logger.info(
                "plugin found",
                metadata: [
                    "plugin.id": "\(plugin.manifest.id)", "plugin.types": "\(plugin.manifest.deviceTypes.map(\.name))",
                ])
        }
    }

    /// The plugin that provides `type`: in its manifest, or declared at run time.
    public nonisolated func plugin(providing type: String) -> DiscoveredPlugin? {
        if let found = plugins.first(where: { $0.manifest.deviceTypes.contains { $0.name == type } }) { return found }
        guard let owner = declared.entry(type)?.plugin else { return nil }
        return plugins.first { $0.manifest.id == owner }
    }

    /// Runs every plugin until the task is cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for supervisor in supervisors.values {
                group.addTask { await supervisor.run() }
            }
        }
    }

    /// Sends a notification to the plugin that provides `type`; false when none is running.
    @discardableResult
    public func notify(type: String, _ method: String, _ params: JSONValue) async -> Bool {
        guard let plugin = plugin(providing: type), let supervisor = supervisors[plugin.manifest.id] else {
            return false
        }
        return await supervisor.notify(method, params)
    }

    /// Sends a request to the plugin that provides `type` and waits for its answer.
    public func request(type: String, _ method: String, _ params: JSONValue) async throws -> JSONValue {
        guard let plugin = plugin(providing: type), let supervisor = supervisors[plugin.manifest.id] else {
            throw PluginSupervisor.Failure(
                description: "no plugin with a process provides device type '\(type)'", sent: false)
        }
        return try await supervisor.request(method, params)
    }

    /// The state of a plugin with a process; nil for a type-only plugin or an unknown id.
    public func state(of id: String) async -> PluginSupervisor.State? {
        guard let supervisor = supervisors[id] else { return nil }
        return await supervisor.state
    }

    public func restart(_ id: String) async -> Bool {
        guard let supervisor = supervisors[id] else { return false }
        await supervisor.requestRestart()
        return true
    }

    public func statusJSON() async -> JSONValue {
        var entries: [JSONValue] = []
        for plugin in plugins {
            if let supervisor = supervisors[plugin.manifest.id] {
                entries.append(await supervisor.statusJSON())
            } else {
                entries.append([
                    "id": .string(plugin.manifest.id), "name": .string(plugin.manifest.name),
                    "version": .string(plugin.manifest.version), "directory": .string(plugin.directory),
                    "state": "type-only", "pid": .null, "restarts": 0, "lastProblem": .null,
                    "deviceTypes": .array(plugin.manifest.deviceTypes.map { .string($0.name) }),
                ])
            }
        }
        // Look again: folders added since the start are reported now (loading them needs a restart).
        let (now, currentProblems) = PluginCatalog.discover(in: directories)
        let loaded = Set(plugins.map(\.directory))
        for plugin in now where !loaded.contains(plugin.directory) {
            entries.append([
                "id": .string(plugin.manifest.id), "name": .string(plugin.manifest.name),
                "version": .string(plugin.manifest.version), "directory": .string(plugin.directory),
                "state": "not-loaded", "pid": .null, "restarts": 0,
                "lastProblem": "added after the hub started; restart the hub to load it",
                "deviceTypes": .array(plugin.manifest.deviceTypes.map { .string($0.name) }),
            ])
        }
        let skipped: [JSONValue] = currentProblems.map {
            [
                "directory": .string($0.directory), "id": $0.pluginID.map(JSONValue.string) ?? .null,
                "reason": .string($0.reason),
            ]
        }
        return ["plugins": .array(entries), "skipped": .array(skipped)]
    }

    public func pluginJSON(_ id: String) async -> JSONValue? {
        guard let plugin = plugins.first(where: { $0.manifest.id == id }) else { return nil }
        var entry = (await supervisors[id]?.statusJSON())?.objectValue ?? ["id": .string(id), "state": "type-only"]
        entry["deviceTypes"] = .array(plugin.manifest.deviceTypes.map(Self.describe))
        entry["declaredTypes"] = .array(declared.types(of: id).map(Self.describe))
        entry["apiVersion"] = .integer(Int64(plugin.manifest.apiVersion))
        return .object(entry)
    }

    public nonisolated static func describe(_ type: DeviceType) -> JSONValue {
        [
            "name": .string(type.name),
            "description": type.description.map(JSONValue.string) ?? .null,
            "shadows": .array(
                type.shadows.map { shadow in
                    [
                        "name": .string(shadow.name),
                        "sensitive": .bool(type.sensitiveShadows.contains(shadow.name)),
                        "attributes": .object(
                            JSONObject(
                                uniqueKeysWithValues: shadow.attributes.sorted { $0.key < $1.key }.map {
                                    ($0.key, describe($0.value))
                                })),
                    ]
                }),
            "commands": .object(
                JSONObject(
                    uniqueKeysWithValues: type.commands.sorted { $0.key < $1.key }.map { name, command in
                        (
                            name,
                            [
                                "sensitive": .bool(command.sensitive), "idempotent": .bool(command.idempotent),
                                "timeoutSeconds": .number(JSONNumber(command.timeoutSeconds)),
                                "heartbeatSeconds": .number(JSONNumber(command.heartbeatSeconds)),
                                "parameters": .object(
                                    JSONObject(
                                        uniqueKeysWithValues: command.parameters.sorted { $0.key < $1.key }.map {
                                            ($0.key, describe($0.value))
                                        })),
                                "description": command.description.map(JSONValue.string) ?? .null,
                            ] as JSONValue
                        )
                    })),
        ]
    }

    nonisolated static func describe(_ attribute: AttributeSchema) -> JSONValue {
        var object: JSONObject = ["type": .string(attribute.kind.rawValue), "writable": .bool(attribute.writable)]
        if let minimum = attribute.minimum { object["min"] = .number(JSONNumber(minimum)) }
        if let maximum = attribute.maximum { object["max"] = .number(JSONNumber(maximum)) }
        if let step = attribute.step { object["step"] = .number(JSONNumber(step)) }
        if let unit = attribute.unit { object["unit"] = .string(unit) }
        if !attribute.values.isEmpty { object["values"] = .array(attribute.values.map(JSONValue.string)) }
        if let description = attribute.description { object["description"] = .string(description) }
        return .object(object)
    }
}
