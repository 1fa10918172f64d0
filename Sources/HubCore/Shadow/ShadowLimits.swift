/// The limits a shadow request must respect. ``aws`` holds AWS IoT's values.
public struct ShadowLimits: Sendable, Equatable {
    /// Bytes of compact `desired` + `reported` JSON after the merge; metadata does not count.
    public var maxDocumentBytes: Int
    /// Nesting levels of `desired`/`reported`, the section itself being level 1.
    public var maxDepth: Int
    public var maxClientTokenBytes: Int
    public var maxThingNameLength: Int
    public var maxShadowNameLength: Int

    public init(
        maxDocumentBytes: Int = 8192,
        maxDepth: Int = 6,
        maxClientTokenBytes: Int = 64,
        maxThingNameLength: Int = 128,
        maxShadowNameLength: Int = 64
    ) {
        self.maxDocumentBytes = maxDocumentBytes
        self.maxDepth = maxDepth
        self.maxClientTokenBytes = maxClientTokenBytes
        self.maxThingNameLength = maxThingNameLength
        self.maxShadowNameLength = maxShadowNameLength
    }

    public static let aws = ShadowLimits()
}
