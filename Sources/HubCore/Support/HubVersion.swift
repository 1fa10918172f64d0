/// The hub's version, in one place for the code (`packaging/debian/changelog` carries the
/// package's).
public enum HubVersion {
    public static let current = "0.1.0"
}
