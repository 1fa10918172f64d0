import HubCore
import HubProcess

#if canImport(Glibc)
    import Glibc
#endif

/// A plugin found on disk whose manifest is valid and whose executable (if any) is usable.
public struct DiscoveredPlugin: Sendable, Equatable {
    public var manifest: PluginManifest
    /// The plugin's folder, symlinks resolved.
    public var directory: String
    /// The executable's absolute path, inside `directory`; nil for a type-only manifest.
    public var executablePath: String?
}

/// A folder that was not loaded, and why.
public struct PluginProblem: Error, Sendable, Equatable {
    public var directory: String
    public var pluginID: String?
    public var reason: String
}

/// Finds plugins: every folder directly inside the configured directories that holds a
/// `manifest.json`. Broken ones are reported and skipped; the others load.
public enum PluginCatalog {
    public static func discover(in directories: [String]) -> (plugins: [DiscoveredPlugin], problems: [PluginProblem]) {
        var plugins: [DiscoveredPlugin] = []
        var problems: [PluginProblem] = []
        for directory in directories {
            for folder in subdirectories(of: directory) {
                switch check(folder) {
                case .success(let plugin):
                    if let clash = plugins.first(where: { $0.manifest.id == plugin.manifest.id }) {
                        problems.append(
                            PluginProblem(
                                directory: folder, pluginID: plugin.manifest.id,
                                reason: "plugin id '\(plugin.manifest.id)' is already provided by \(clash.directory)"))
                        continue
                    }
                    let types = Set(plugins.flatMap { $0.manifest.deviceTypes.map(\.name) })
                    if let taken = plugin.manifest.deviceTypes.first(where: { types.contains($0.name) }) {
                        problems.append(
                            PluginProblem(
                                directory: folder, pluginID: plugin.manifest.id,
                                reason: "device type '\(taken.name)' is already provided by another plugin"))
                        continue
                    }
                    plugins.append(plugin)
                case .failure(let problem):
                    problems.append(problem)
                }
            }
        }
        return (plugins, problems)
    }

    /// Validates one plugin folder (also what `hubctl plugins check DIR` runs).
    public static func check(_ folder: String) -> Result<DiscoveredPlugin, PluginProblem> {
        guard let directory = realPath(folder) else {
            return .failure(PluginProblem(directory: folder, pluginID: nil, reason: "\(folder) does not exist"))
        }
        let manifestPath = directory + "/manifest.json"
        guard let bytes = readFile(manifestPath) else {
            return .failure(PluginProblem(directory: folder, pluginID: nil, reason: "\(manifestPath) cannot be read"))
        }
        let manifest: PluginManifest
        do {
            manifest = try PluginManifest(json: bytes, source: manifestPath)
        } catch {
            return .failure(PluginProblem(directory: folder, pluginID: nil, reason: error.message))
        }
        guard manifest.supportsHubAPI() else {
            return .failure(
                PluginProblem(
                    directory: folder, pluginID: manifest.id,
                    reason:
                        "plugin '\(manifest.id)' supports hub API \(manifest.apiRange.lowerBound)…\(manifest.apiRange.upperBound); this hub speaks \(PluginManifest.hubAPIVersions.lowerBound)…\(PluginManifest.hubAPIVersions.upperBound)"
                ))
        }
        var executablePath: String?
        if let executable = manifest.executable {
            let path = directory + "/" + executable
            guard let resolved = realPath(path) else {
                return .failure(
                    PluginProblem(directory: folder, pluginID: manifest.id, reason: "executable \(path) does not exist")
                )
            }
            guard resolved.hasPrefix(directory + "/") else {
                return .failure(
                    PluginProblem(
                        directory: folder, pluginID: manifest.id,
                        reason: "executable \(path) resolves to \(resolved), outside the plugin's folder \(directory)"))
            }
            guard access(resolved, X_OK) == 0 else {
                return .failure(
                    PluginProblem(directory: folder, pluginID: manifest.id, reason: "\(resolved) is not executable"))
            }
            executablePath = resolved
        }
        return .success(DiscoveredPlugin(manifest: manifest, directory: directory, executablePath: executablePath))
    }

    static func subdirectories(of directory: String) -> [String] {
        DirectoryListing.paths(in: directory).filter {
            DirectoryListing.kind(of: $0) == .directory && access($0 + "/manifest.json", F_OK) == 0
        }
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func readFile(_ path: String) -> [UInt8]? {
        FileContents.read(path, limit: 1 << 20)
    }
}
