import AsyncAlgorithms
public import HubAPI
import HubCore
import HubCrypto
import HubMQTT
import HubPlugins
import HubProcess
import HubStore
import HubSystemd
public import Logging
import Metrics
public import Prometheus
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Builds homehubd's services from a configuration and runs them until SIGTERM or SIGINT.
public enum HubDaemon {
    /// The hub's parts, wired and loaded but not yet running: what `run` starts, and what the
    /// HTTP fuzzer drives in-process through ``api`` without starting anything.
    public struct Assembly: Sendable {
        public let api: ControlAPI
        /// The HTTPS side: AWS's data-plane API, and where it listens.
        /// The HTTPS side's responder: the dashboard, and AWS's data-plane API behind it.
        let dataPlane: Dashboard
        let https: [UnixSocketHTTPServer.Listener]
        let services: [ServiceGroupConfiguration.ServiceConfiguration]
        let status: HubStatus
        let shadows: ShadowService
        let store: HubStore
        let client: MQTTClient
        let outbound: MQTTClient
        let retainedClient: MQTTClient?
        /// Home Assistant's discovery: its inbound and outbound connections; cloud sync's one.
        let homeAssistantClients: [MQTTClient]
        let events: EventBus
    }

    public static func run(_ configuration: HubConfiguration, logger: Logger, metrics: PrometheusCollectorRegistry)
        async throws
    {
        let hub = try await assemble(configuration, logger: logger, metrics: metrics)
        defer {
            hub.events.finishAll()
            hub.store.close()
        }
        var services = hub.services
        let listener: UnixSocketHTTPServer.Listener
        if let inherited = Systemd.listenDescriptors().first {
            listener = .inheritedDescriptor(inherited)
        } else {
            listener = .path(
                configuration.hub.socket, mode: configuration.hub.socketMode,
                group: groupID(configuration.hub.socketGroup, logger: logger))
        }
        services.append(
            .init(
                service: ControlAPIService(
                    server: UnixSocketHTTPServer(listener: listener, responder: hub.api, logger: logger),
                    status: hub.status)))
        for (listener, address) in zip(hub.https, configuration.http.listen) {
            services.append(
                .init(
                    service: HTTPSService(
                        server: UnixSocketHTTPServer(listener: listener, responder: hub.dataPlane, logger: logger),
                        address: address)))
        }
        services.append(
            .init(service: SystemdNotifier(status: hub.status, shadows: hub.shadows, store: hub.store, logger: logger)))

        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        logger.notice(
            "homehubd \(HubStatus.version) starting",
            metadata: [
                "data_dir": "\(configuration.hub.dataDirectory)", "socket": "\(configuration.hub.socket)",
                "mqtt.mode": "\(configuration.mqtt.mode.rawValue)",
            ])
        defer {
            // Also when a service failed: every connection is closed once, whatever stopped the group.
            hub.client.close()
            hub.outbound.close()
            hub.retainedClient?.close()
            for client in hub.homeAssistantClients { client.close() }
            if case .path = listener { unlink(configuration.hub.socket) }
        }
        try await group.run()
        logger.notice("homehubd stopped")
    }

    /// Opens the store, registers the configured things, discovers the plugins and builds every
    /// service; starts nothing.
    public static func assemble(
        _ configuration: HubConfiguration, logger: Logger, metrics: PrometheusCollectorRegistry
    ) async throws -> Assembly {
        let clock = SystemClock(offsetSeconds: SystemClock.environmentOffset)
        if clock.offsetSeconds != 0 {
            logger.warning(
                "HOMEHUB_CLOCK_OFFSET_SECONDS shifts the hub's wall clock",
                metadata: ["seconds": "\(clock.offsetSeconds)"])
        }
        try makeDirectory(configuration.hub.dataDirectory, mode: 0o750)
        try makeDirectory(parent(of: configuration.hub.socket), mode: 0o755)

        let store = try HubStore(path: configuration.databasePath, now: clock.epochSeconds())
        // The database holds the applications' SigV4 secrets: the hub's user alone reads it (SQLite
        // gives its -wal and -shm files the database file's mode).
        for suffix in ["", "-wal", "-shm"] { chmod(configuration.databasePath + suffix, 0o600) }

        let status = HubStatus(clock: clock)
        let events = EventBus(logger: logger)
        for thing in configuration.things {
            // Things declared in the configuration are (re-)registered at every start.
            try await store.registerThing(
                ThingRegistration(
                    name: thing.name, deviceType: thing.type, config: thing.config, createdAt: clock.epochSeconds()))
        }
        let discovered = PluginCatalog.discover(in: configuration.plugins.directories)
        var types: [String: DeviceType] = [:]
        var owners: [String: String] = [:]
        for plugin in discovered.plugins {
            for type in plugin.manifest.deviceTypes {
                types[type.name] = type
                owners[type.name] = plugin.manifest.id
            }
        }
        // Types bridges declared in earlier runs: as sensitive from the start as when declared.
        let declared = DeclaredTypes()
        for record in try await store.declaredTypes() where types[record.name] == nil {
            do {
                let type = try PluginManifest.declaredType(
                    record.name, record.definition, source: "declared type '\(record.name)' in hub.db")
                declared.set(.init(plugin: record.plugin, type: type, definition: record.definition))
                types[type.name] = type
                owners[type.name] = record.plugin
            } catch {
                logger.error(
                    "a stored declared type no longer reads; its things have no type until declared again: \(error.message)"
                )
            }
        }
        let manifestOwners = owners.filter { declared.entry($0.key) == nil }
        let registry = ThingRegistry(things: try await store.things(), deviceTypes: types, owners: owners)
        let embedded = configuration.mqtt.mode == .embedded
        let identities = IdentityTable(
            applications: try await applications(configuration, store: store, clock: clock, logger: logger),
            members: try await store.members())
        let access = AccessGate(
            rules: AccessRules(
                policy: configuration.policy, anonymousRole: embedded ? configuration.mqtt.anonymousRole : nil,
                cloudRole: configuration.cloud.enabled
                    ? (configuration.cloud.allowSensitive ? .sensitive : .write) : nil
            ),
            directory: identities, store: store, clock: clock, logger: logger)
        let homeAssistant = configuration.homeAssistant
        let discovery = HomeAssistantDiscovery(
            discoveryPrefix: homeAssistant.discoveryPrefix, topicPrefix: homeAssistant.topicPrefix,
            hubVersion: HubStatus.version)
        var brokerAccess: BrokerAccess?
        if embedded {
            brokerAccess = BrokerAccess(
                directory: configuration.hub.dataDirectory, anonymousRole: configuration.mqtt.anonymousRole,
                identities: identities, registry: registry,
                reserved: homeAssistant.enabled
                    ? (
                        ["\(discovery.topicPrefix)/#", "\(discovery.discoveryPrefix)/+/\(discovery.nodeID)/#"],
                        discovery.commandFilters
                    ) : ([], []),
                logger: logger)
        }
        // Two connections: requests come in on one, answers go out on the other. The inbound
        // one's network thread waits when the hub is behind (backpressure); the outbound one's
        // must keep reading acknowledgements meanwhile, or a full publish window and a full
        // inbox would wait on each other (docs/architecture.md).
        var inboundOptions = mqttOptions(configuration)
        if let brokerAccess {
            // The embedded broker knows the hub by this login, and stamps every client's message
            // with its sender (MQTT 5 user properties).
            inboundOptions.username = BrokerAccess.hubUser
            inboundOptions.password = brokerAccess.hubPassword
            inboundOptions.protocolVersion5 = true
        }
        let client = try MQTTClient(options: inboundOptions)
        var outboundOptions = inboundOptions
        outboundOptions.clientID += "-out"
        let outbound = try MQTTClient(options: outboundOptions)
        // Retained messages are followed on a third connection (embedded broker: MQTT 5's
        // retain-as-published tells a new retained message from an ordinary one).
        let retained = RetainedMessages()
        var retainedOptions = inboundOptions
        retainedOptions.clientID += "-retained"
        let retainedClient = embedded ? try MQTTClient(options: retainedOptions) : nil
        let deltas = LatestValues<ShadowID, ShadowFanOut.DeltaNotice>()
        let manualChanges = LatestValues<ShadowID, ShadowFanOut.ManualDesiredChange>()
        let shadows = try await ShadowService(
            store: store, limits: configuration.shadows.limits,
            requestsPerSecondPerThing: configuration.shadows.requestsPerSecondPerThing,
            requireRegisteredThings: configuration.shadows.requireRegisteredThings, clock: clock, registry: registry,
            access: access,
            fanOut: ShadowFanOut(
                publisher: MQTTShadowPublisher(client: outbound, logger: logger), events: events, deltas: deltas,
                manualChanges: manualChanges),
            logger: logger)
        var pluginOptions = PluginHostOptions()
        pluginOptions.stateDirectory = configuration.hub.dataDirectory + "/plugins"
        pluginOptions.pingInterval = .milliseconds(Int(configuration.plugins.pingSeconds * 1000))
        pluginOptions.replyDeadline = .milliseconds(Int(configuration.plugins.replyTimeoutSeconds * 1000))
        pluginOptions.initialBackoff = configuration.plugins.restartBackoffSeconds
        pluginOptions.maxMessagesPerSecond = configuration.plugins.maxMessagesPerSecond
        pluginOptions.maxLineBytes = configuration.plugins.maxLineBytes
        pluginOptions.crashesBeforeQuarantine = configuration.plugins.crashesBeforeQuarantine
        pluginOptions.settings = configuration.plugins.settings
        for name in configuration.plugins.settings.keys
        where !discovered.plugins.contains(where: { $0.manifest.id == name || $0.manifest.id.hasSuffix(".\(name)") }) {
            logger.warning("[plugins.\(name)] in the configuration names no loaded plugin; its settings are unused")
        }
        let commandUpdates = AsyncChannel<CommandUpdate>()
        let plugins = PluginManager(
            discovered: discovered, directories: configuration.plugins.directories, options: pluginOptions,
            delegate: PluginBridge(
                shadows: shadows, events: events, logger: logger, commandUpdates: commandUpdates, store: store,
                declared: declared, manifestTypes: manifestOwners, brokerAccess: brokerAccess),
            declared: declared, logger: logger)
        let commands = CommandService(
            store: store, shadows: shadows, plugins: plugins, events: events, clock: clock, logger: logger)
        try await commands.recover()
        // The hub's device CA (embedded broker only): certificates for devices and the TLS listener.
        var authority: DeviceCA?
        if configuration.mqtt.mode == .embedded || !configuration.http.listen.isEmpty {
            do {
                authority = try DeviceCA(directory: configuration.hub.dataDirectory + "/ca")
            } catch {
                throw ConfigurationError(message: "device CA: \(error.description)")
            }
        }
        let schedules = try ScheduleService(
            store: store, shadows: shadows, commands: commands, events: events, clock: clock,
            zones: TimeZoneDatabase(), configuredZone: configuration.hub.timeZone, logger: logger)
        try await schedules.load()

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if configuration.mqtt.mode == .embedded {
            guard let brokerAccess else { throw ConfigurationError(message: "the embedded broker has no access files") }
            do {
                try brokerAccess.writeFiles()
            } catch {
                throw ConfigurationError(message: "the embedded broker's access files: \(error)")
            }
            var broker = EmbeddedBroker.Configuration(
                directory: configuration.hub.dataDirectory, socketPath: configuration.brokerSocketPath,
                access: .init(
                    pluginPath: try brokerPlugin(configuration), passwordFile: brokerAccess.passwordFile,
                    rulesFile: brokerAccess.rulesFile, allowAnonymous: configuration.mqtt.anonymousRole != nil))
            broker.host = configuration.mqtt.host
            broker.port = configuration.mqtt.port
            broker.executable = configuration.mqtt.mosquitto
            if configuration.mqtt.tlsPort != 0 {
                if let ca = configuration.mqtt.caFile, let cert = configuration.mqtt.certFile,
                    let key = configuration.mqtt.keyFile
                {
                    broker.tls = .init(port: configuration.mqtt.tlsPort, caFile: ca, certFile: cert, keyFile: key)
                } else if let authority {
                    broker.tls = .init(
                        port: configuration.mqtt.tlsPort, caFile: authority.caFile, certFile: authority.brokerCertFile,
                        keyFile: authority.brokerKeyFile)
                }
            }
            services.append(
                .init(
                    service: BrokerService(
                        broker: EmbeddedBroker(configuration: broker, logger: logger), status: status,
                        access: brokerAccess)))
        }
        services.append(
            .init(
                service: MQTTShadowService(
                    client: client, outbound: outbound, shadows: shadows, status: status, logger: logger,
                    commandUpdates: commandUpdates, stampExpected: embedded)))
        services.append(.init(service: PluginService(plugins: plugins, shadows: shadows, deltas: deltas)))
        if let retainedClient {
            services.append(
                .init(
                    service: RetainedMessageService(
                        client: retainedClient, retained: retained, clock: clock, logger: logger)))
        }
        var homeAssistantClients: [MQTTClient] = []
        if homeAssistant.enabled {
            var haOptions = inboundOptions
            haOptions.clientID += "-homeassistant"
            let haInbound = try MQTTClient(options: haOptions)
            haOptions.clientID += "-out"
            haOptions.will = HomeAssistantService.willMessage(discovery)
            let haOutbound = try MQTTClient(options: haOptions)
            homeAssistantClients = [haInbound, haOutbound]
            services.append(
                .init(
                    service: HomeAssistantService(
                        inbound: haInbound, outbound: haOutbound, discovery: discovery, shadows: shadows,
                        commands: commands, plugins: plugins, events: events, stampExpected: embedded, logger: logger)))
            if embedded, configuration.mqtt.anonymousRole == nil,
                !identities.allApplications().contains(where: { $0.name == homeAssistant.application })
            {
                logger.warning(
                    "Home Assistant cannot log in yet: run 'hubctl apps add \(homeAssistant.application) --role write' (or sensitive) and give it the password (docs/home-assistant.md)"
                )
            }
        }
        let cloudState = CloudSyncState(rate: configuration.cloud.maxUpdatesPerSecond)
        let sessions = MemberSessions()
        if configuration.cloud.enabled {
            let cloud = configuration.cloud
            var options = MQTTClientOptions(
                endpoint: .tcp(host: cloud.endpoint, port: cloud.port), clientID: cloud.clientID)
            options.tls = .init(caFile: cloud.caFile ?? "", certFile: cloud.certFile, keyFile: cloud.keyFile)
            options.maxReconnectDelaySeconds = 60
            options.keepAliveSeconds = 60
            let cloudClient: MQTTClient
            do {
                cloudClient = try MQTTClient(options: options)
            } catch {
                throw ConfigurationError(
                    message:
                        "[cloud]: cannot use the TLS files (ca_file \(cloud.caFile ?? "-"), cert_file \(cloud.certFile ?? "-"), key_file \(cloud.keyFile ?? "-")): \(error)"
                )
            }
            homeAssistantClients.append(cloudClient)
            services.append(
                .init(
                    service: CloudSyncService(
                        configuration: cloud, client: cloudClient, shadows: shadows, commands: commands, store: store,
                        events: events, state: cloudState, logger: logger)))
        }
        services.append(
            .init(
                service: HistoryService(
                    configuration: configuration.history, store: store, events: events, registry: registry,
                    clock: clock, logger: logger)))
        services.append(.init(service: CommandTimerService(commands: commands, updates: commandUpdates)))
        services.append(
            .init(service: ScheduleTimerService(schedules: schedules, manualChanges: manualChanges, clock: clock)))
        let backend = ControlBackend(
            shadows: shadows, store: store, status: status, events: events, clock: clock,
            limits: configuration.shadows.limits, plugins: plugins, commands: commands, schedules: schedules,
            authority: authority, tlsPort: configuration.mqtt.tlsPort, identities: identities, retained: retained,
            mqttPublish: { topic, payload, qos, retain, properties in
                do {
                    try await outbound.publish(
                        topic, payload: payload, qos: qos, retain: retain, properties: properties)
                    return true
                } catch {
                    return false
                }
            },
            brokerAccess: brokerAccess, logger: logger,
            metrics: {
                let text = metrics.emitToString()
                return text.hasSuffix("\n") ? text : text + "\n"
            },
            sessions: sessions,
            cloudStatus: { [cloud = configuration.cloud] in cloudState.statusJSON(configuration: cloud) })
        // Present from the start, so that dashboards see 0 rather than nothing.
        for plugin in discovered.plugins where plugin.executablePath != nil {
            Counter(label: "homehub_plugin_restarts_total", dimensions: [("plugin", plugin.manifest.id)]).increment(
                by: 0)
        }
        let api = ControlAPI(
            backend: backend, policy: configuration.policy, identify: CallerIdentity.resolve,
            decide: { identity, permission in
                access.rules.decide(
                    identity, needs: permission, on: nil, action: permission.action, directory: identities)
            })
        var https: [UnixSocketHTTPServer.Listener] = []
        if !configuration.http.listen.isEmpty {
            let files = try httpsCertificate(configuration, authority: authority)
            for address in configuration.http.listen {
                guard let (host, port) = HubConfiguration.splitAddress(address) else { continue }
                https.append(.tls(host: host, port: port, certificateFile: files.certificate, keyFile: files.key))
            }
        }
        let authenticator = SigV4Authenticator(identities: identities, clock: clock)
        let dataPlane = Dashboard(
            api: api, dataPlane: DataPlaneAPI(api: api, authenticate: { authenticator.authenticate($0) }),
            sessions: sessions, identities: identities, access: access, clock: clock,
            files: Dashboard.files(in: configuration.http.uiDirectory))
        return Assembly(
            api: api, dataPlane: dataPlane, https: https, services: services, status: status, shadows: shadows,
            store: store, client: client,
            outbound: outbound, retainedClient: retainedClient, homeAssistantClients: homeAssistantClients,
            events: events)
    }

    static func mqttOptions(_ configuration: HubConfiguration) -> MQTTClientOptions {
        let mqtt = configuration.mqtt
        var options: MQTTClientOptions
        switch mqtt.mode {
        case .embedded:
            options = MQTTClientOptions(
                endpoint: .unixSocket(path: configuration.brokerSocketPath), clientID: mqtt.clientID)
            options.maxReconnectDelaySeconds = 2
        case .external:
            if let socket = mqtt.socket {
                options = MQTTClientOptions(endpoint: .unixSocket(path: socket), clientID: mqtt.clientID)
            } else {
                options = MQTTClientOptions(endpoint: .tcp(host: mqtt.host, port: mqtt.port), clientID: mqtt.clientID)
            }
            if let ca = mqtt.caFile { options.tls = .init(caFile: ca, certFile: mqtt.certFile, keyFile: mqtt.keyFile) }
            options.username = mqtt.username
            options.password = mqtt.password
            options.maxReconnectDelaySeconds = 5
        }
        return options
    }

    /// The socket's group, or nil (keep the process's own) when it does not exist here.
    static func groupID(_ name: String, logger: Logger) -> UInt32? {
        guard let entry = getgrnam(name) else {
            logger.warning("group '\(name)' does not exist; the control socket keeps the process's own group")
            return nil
        }
        return entry.pointee.gr_gid
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func makeDirectory(_ path: String, mode: mode_t) throws {
        var partial = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            partial += "/" + component
            if mkdir(partial, mode) != 0 && errno != EEXIST {
                throw ConfigurationError(
                    message: "cannot create directory \(partial): \(String(cString: strerror(errno)))")
            }
        }
    }
}
