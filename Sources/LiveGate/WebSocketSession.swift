import LiveGateWebSocket

/// What a WebSocket endpoint does with a connection once it is open.
///
/// Called on the connection's loop thread only.
protocol WebSocketSession: AnyObject {
    /// The upgrade succeeded and the 101 is queued.
    func connectionDidOpen(_ connection: Connection)
    /// A complete text or binary message arrived; the buffer is valid during the call only.
    func connection(_ connection: Connection, didReceive opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer)
    /// The connection is gone (closed cleanly or not); release what refers to it.
    func connectionDidClose(_ connection: Connection)
}

/// Sends every message back unchanged with the same opcode (the `/echo` endpoint).
final class EchoSession: WebSocketSession {
    func connectionDidOpen(_ connection: Connection) {}

    func connection(_ connection: Connection, didReceive opcode: WebSocketOpcode, payload: UnsafeRawBufferPointer) {
        connection.sendMessage(opcode, payload: payload)
    }

    func connectionDidClose(_ connection: Connection) {}
}
