public import HubCore

/// One line from a plugin, classified: a call or notification from the plugin, or an answer to
/// one of the hub's requests. Anything else is the plugin's fault and ends its run.
public enum PluginMessage: Sendable, Equatable {
    /// A call (`id` present) or a notification from the plugin.
    case call(method: String, params: JSONValue, id: JSONValue?)
    /// The answer to the hub's request `id` (nil when it has no integer id, which matches no
    /// request): a result or an error message.
    case answer(id: Int64?, result: Result<JSONValue, AnswerError>)

    public struct AnswerError: Error, Sendable, Equatable {
        public var message: String
    }

    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Decodes a line of JSON-RPC 2.0; the error quotes the start of the line.
    public init(line: [UInt8]) throws(Invalid) {
        guard let message = try? JSONParser().parse(line), case .object(let object) = message,
            object["jsonrpc"] == "2.0"
        else {
            throw Invalid(
                description:
                    "the plugin wrote a line that is not a JSON-RPC 2.0 message: \(String(decoding: line.prefix(120), as: UTF8.self))"
            )
        }
        if let method = object["method"]?.stringValue {
            let id = object["id"].flatMap { $0.isNull ? nil : $0 }
            self = .call(method: method, params: object["params"] ?? .null, id: id)
            return
        }
        let id = object["id"]?.numberValue?.exactInteger
        if let error = object["error"] {
            self = .answer(
                id: id, result: .failure(AnswerError(message: error["message"]?.stringValue ?? error.compactText)))
        } else {
            self = .answer(id: id, result: .success(object["result"] ?? .null))
        }
    }
}
