/// A failure of the replay's own clients.
public struct ReplayClientError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public var description: String
    /// An error saying `description`.
    init(_ description: String) { self.description = description }
}
