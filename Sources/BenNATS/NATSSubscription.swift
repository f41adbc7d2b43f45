import CNats
import Synchronization

/// A subscription's messages, as an `AsyncSequence`.
///
/// libnats delivers each message on the subscription's own thread; the callback copies it into a
/// `NATSMessage`, frees the C message and hands the copy to an `AsyncStream`. Nothing else happens on libnats's
/// thread. The subscription unsubscribes when the task iterating it is cancelled, when the subscription and its
/// iterators are dropped, or on `unsubscribe()`; the sequence ends then, or when the connection closes.
public final class NATSSubscription: AsyncSequence, Sendable {
    public typealias Element = NATSMessage
    public typealias Failure = Never

    public let subject: String
    public let queue: String?
    private let stream: AsyncStream<NATSMessage>
    private let handle: SubscriptionHandle
    private let bridge: SubscriptionBridge

    init(connection: ConnectionHandle, subject: String, queue: String?, pendingLimit: Int) throws(NATSError) {
        let operation = "subscribe to \(subject)" + (queue.map { " in queue group \($0)" } ?? "")
        let (stream, continuation) = AsyncStream.makeStream(
            of: NATSMessage.self, bufferingPolicy: .bufferingOldest(Swift.max(1, pendingLimit)))
        let bridge = SubscriptionBridge(
            continuation: continuation, connection: connection, subject: subject)
        // The C side holds one reference to the bridge, given back in `subscriptionCompleted`, which libnats calls
        // once the subscription is closed and its message callback has returned for the last time.
        let closure = Unmanaged.passRetained(bridge).toOpaque()
        var subscription: OpaquePointer?
        let status =
            if let queue {
                natsConnection_QueueSubscribe(
                    &subscription, connection.pointer, subject, queue, deliverMessage, closure)
            } else {
                natsConnection_Subscribe(&subscription, connection.pointer, subject, deliverMessage, closure)
            }
        guard status == NATS_OK, let subscription else {
            let error = NATSLibrary.error(status, operation)
            // Never registered: no message was or will be delivered, so the C side's reference can go.
            Unmanaged<SubscriptionBridge>.fromOpaque(closure).release()
            continuation.finish()
            throw error
        }
        if natsSubscription_SetOnCompleteCB(subscription, subscriptionCompleted, closure) != NATS_OK {
            // The connection closed in between: the subscription is already closed, but its delivery thread may
            // still be inside the callback, and no completion call will come. Keep the bridge alive for good (a
            // few hundred bytes, only in this race) rather than risk freeing it under that thread.
            continuation.finish()
        }
        let handle = SubscriptionHandle(pointer: subscription, connection: connection)
        continuation.onTermination = { (_: AsyncStream<NATSMessage>.Continuation.Termination) in handle.unsubscribe() }
        self.subject = subject
        self.queue = queue
        self.stream = stream
        self.handle = handle
        self.bridge = bridge
    }

    /// Stops receiving. Messages already received can still be read; then the sequence ends. Idempotent.
    public func unsubscribe() { handle.unsubscribe() }

    /// Messages that arrived while `pendingLimit` messages were already waiting, and were dropped.
    public var droppedMessages: Int { bridge.dropped.load(ordering: .relaxed) }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: stream.makeAsyncIterator(), owner: self) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<NATSMessage>.Iterator
        // Keeps the subscription (and so the C subscription) alive while someone iterates.
        let owner: NATSSubscription

        public mutating func next() async -> NATSMessage? { await base.next() }
    }

    deinit { handle.unsubscribe() }
}

/// What libnats's callbacks reach through their closure pointer.
final class SubscriptionBridge: Sendable {
    let continuation: AsyncStream<NATSMessage>.Continuation
    let connection: ConnectionHandle
    let subject: String
    let dropped = Atomic<Int>(0)

    init(continuation: AsyncStream<NATSMessage>.Continuation, connection: ConnectionHandle, subject: String) {
        self.continuation = continuation
        self.connection = connection
        self.subject = subject
    }

    func deliver(_ message: NATSMessage) {
        if case .dropped = continuation.yield(message) {
            let count = dropped.wrappingAdd(1, ordering: .relaxed).newValue
            // Report the first drop and then every 1000th, as libnats reports a slow consumer once per episode.
            if count == 1 || count % 1000 == 0 {
                connection.events.emit(
                    .error(
                        NATSError(
                            code: .slowConsumer, operation: "subscription to \(subject)",
                            statusText: NATSLibrary.text(of: NATS_SLOW_CONSUMER),
                            status: Int(NATS_SLOW_CONSUMER.rawValue),
                            detail: "\(count) messages dropped: the consumer did not keep up")))
            }
        }
    }
}

/// Owns one `natsSubscription *`.
///
/// `@unchecked Sendable` is safe: libnats's subscription functions are thread-safe, and `done` (under its
/// lock) makes sure unsubscribe and destroy run once, after which the pointer is never used again.
final class SubscriptionHandle: @unchecked Sendable {
    private let pointer: OpaquePointer
    private let connection: ConnectionHandle
    private let done = Locked(false)

    init(pointer: OpaquePointer, connection: ConnectionHandle) {
        self.pointer = pointer
        self.connection = connection
    }

    func unsubscribe() {
        let first = done.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        // Fails harmlessly if the connection already closed the subscription.
        _ = natsSubscription_Unsubscribe(pointer)
        natsSubscription_Destroy(pointer)
    }

    deinit { unsubscribe() }
}

/// libnats's message callback, on the subscription's delivery thread: copy, free, hand on.
private let deliverMessage: natsMsgHandler = { _, _, message, closure in
    guard let message, let closure else { return }
    let bridge = Unmanaged<SubscriptionBridge>.fromOpaque(closure).takeUnretainedValue()
    let copy = NATSMessage(copying: message, connection: bridge.connection)
    natsMsg_Destroy(message)
    bridge.deliver(copy)
}

/// Called once, after the subscription closed and its last message callback returned: end the sequence and
/// release the C side's reference to the bridge.
private let subscriptionCompleted: natsOnCompleteCB = { closure in
    guard let closure else { return }
    let bridge = Unmanaged<SubscriptionBridge>.fromOpaque(closure).takeRetainedValue()
    bridge.continuation.finish()
}
