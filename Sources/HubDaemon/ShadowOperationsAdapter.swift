import HubAPI
import HubCore

/// The control API's view of the shadow service: REST requests take the MQTT requests' path.
struct ShadowOperationsAdapter: ShadowOperations {
    let service: ShadowService
    let limits: ShadowLimits
    let clock: any HubClock

    func perform(_ operation: ShadowTopic.Operation, id: ShadowID, payload: [UInt8]) async -> Result<JSONValue, ShadowError> {
        let pending = await service.begin(operation, id: id, payload: payload)
        let result = await pending.finish()
        service.publish(result, of: pending, origin: .rest)
        return result.map(\.accepted)
    }

    func namedShadows(of thing: String) async -> [String] {
        await service.namedShadows(of: thing)
    }

    func epochSeconds() -> Int64 { clock.epochSeconds() }
}
