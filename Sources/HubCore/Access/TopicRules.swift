/// Who may publish on a topic that is not a shadow request, when the hub publishes for someone
/// (AWS's Publish over HTTPS). The same rule homehub's broker plugin applies to MQTT clients
/// (Sources/HubBrokerPlugin/broker_plugin.c): the hub's own topics and the shadow service's
/// answers are the hub's; reading is not writing.
public enum TopicRules {
    public static func refusal(
        _ topic: String, for identity: Identity, role: (Identity, String?) -> Permission?
    ) -> String? {
        if topic.isEmpty || topic.contains("+") || topic.contains("#") || topic.utf8.count > 256 {
            return
                "'\(topic)' is not a topic to publish on: 1–256 bytes, no wildcards ('+', '#')"
        }
        for reserved in ["$homehub/", "$CONTROL/", "$SYS/"] where topic.hasPrefix(reserved) {
            return "\(identity.phrase) may not publish to \(topic): the hub's and the broker's own topics"
        }
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        if levels.count > 3, levels[0] == "$aws", levels[1] == "things",
            let last = levels.last, ["accepted", "rejected", "delta", "documents"].contains(last)
        {
            return "\(identity.phrase) may not publish to \(topic): the shadow service's answer topics are the hub's"
        }
        let thing = levels.count > 2 && levels[0] == "$aws" ? String(levels[2]) : nil
        guard let granted = role(identity, thing) else {
            return "\(identity.phrase) may not publish to \(topic): it has no role"
        }
        if granted < .write {
            return "\(identity.phrase) may not publish to \(topic): its role is '\(granted.rawValue)'; needs 'write'"
        }
        return nil
    }
}
