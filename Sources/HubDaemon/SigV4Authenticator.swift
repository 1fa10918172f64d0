import HubAPI
import HubCore
import HubCrypto

/// Authenticates an HTTPS request by its SigV4 signature: the application whose access key signed
/// it is the request's identity. A refusal carries what botocore expects for iot-data — 401 and
/// `UnauthorizedException`, the error every operation of its model declares — and AWS's words.
struct SigV4Authenticator: Sendable {
    let identities: IdentityTable
    let clock: any HubClock

    func authenticate(_ request: HTTPRequest) -> Result<Identity, DataPlaneAPI.Refusal> {
        var holder: String?
        do throws(SigV4.Failure) {
            _ = try SigV4.verify(
                SigV4.Request(
                    method: request.method, target: request.target, headers: request.headers, body: request.body),
                now: clock.epochSeconds()
            ) { key in
                guard let application = identities.application(accessKey: key) else { return nil }
                holder = application.name
                return application.secretAccessKey
            }
            // verify asked for the key's secret, so the holder is known once it accepts.
            guard let name = holder else {
                return .failure(refusal(.unknownKey, "The security token included in the request is invalid.", nil))
            }
            return .success(.application(name))
        } catch {
            return .failure(refusal(error.kind, error.message, holder))
        }
    }

    func refusal(_ kind: SigV4.Failure.Kind, _ message: String, _ holder: String?) -> DataPlaneAPI.Refusal {
        let identity: Identity =
            holder.map(Identity.application)
            ?? .unidentified(kind == .missing ? "an unsigned HTTPS request" : "an HTTPS request with no valid key")
        return DataPlaneAPI.Refusal(
            status: 401, errorType: "UnauthorizedException", message: message, identity: identity)
    }
}
