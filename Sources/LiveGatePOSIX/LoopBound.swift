/// A value that belongs to one event loop: it is read and changed only on that loop's
/// thread, while the `LoopBound` itself may be held and copied by any thread (in the spirit
/// of NIO's `NIOLoopBound`).
///
/// ``value`` checks that the caller is on the loop; ``execute(_:)`` hops there from anywhere.
/// The value is handed over at ``init(_:eventLoop:)`` (`sending`), so nothing else keeps a
/// reference to it.
public struct LoopBound<Value>: @unchecked Sendable {
    // @unchecked: `box.value` is only touched on `eventLoop`'s thread (checked by `value`,
    // guaranteed by `execute`); other threads copy the reference to the box, never the value.

    private final class Box {
        var value: Value
        init(_ value: Value) { self.value = value }
    }

    /// The loop that owns the value.
    public let eventLoop: EventLoop
    private let box: Box

    /// Hands `value` to `eventLoop`: from now on only that loop's thread touches it.
    public init(_ value: sending Value, eventLoop: EventLoop) {
        self.eventLoop = eventLoop
        box = Box(value)
    }

    /// The value. Loop thread only (a precondition).
    public var value: Value {
        get {
            precondition(eventLoop.inEventLoop, "LoopBound.value read off loop \(eventLoop.index)")
            return box.value
        }
        nonmutating set {
            precondition(eventLoop.inEventLoop, "LoopBound.value written off loop \(eventLoop.index)")
            box.value = newValue
        }
    }

    /// Runs `body` with the value on the loop's thread, soon (through ``EventLoop/execute(_:)``,
    /// even when called on that thread). Callable from any thread.
    public func execute(_ body: sending @escaping (Value) -> Void) {
        eventLoop.execute { [self] in body(box.value) }
    }
}
