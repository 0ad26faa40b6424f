import LiveGatePOSIX

/// How another thread reaches a connection: its loop's context and its id. It never holds
/// the connection itself; by the time a task arrives the connection may be gone, and the
/// task then does nothing.
struct ConnectionHandle: Sendable {
    /// The context of the loop that owns the connection.
    let context: LoopBound<LoopContext>
    /// The connection's id (unique within the process).
    let id: UInt64

    /// Runs `body` on the connection's loop with the connection, if it is still open.
    /// Callable from any thread.
    func execute(_ body: sending @escaping (LoopContext, Connection) -> Void) {
        let id = self.id
        context.execute { context in
            guard let connection = context.connection(id) else { return }
            body(context, connection)
        }
    }
}
