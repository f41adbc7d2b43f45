import CNats
import CoreMetrics
import Logging
import Synchronization

/// Something that happened to a connection, as libnats reports it from its own threads.
public enum NATSConnectionEvent: Sendable, Hashable, CustomStringConvertible {
    /// The connection to the server was lost. Unless reconnecting is disabled, libnats is now reconnecting;
    /// publishes are buffered meanwhile.
    case disconnected
    /// The connection is back, to `url`. Subscriptions have been re-established by the client.
    case reconnected(url: String)
    /// The connection is closed for good: `close()`, `drain()`, or reconnect attempts ran out.
    case closed
    /// The server announced it is shutting down gracefully (lame-duck mode); expect a reconnect soon.
    case lameDuckMode
    /// An error that no call returned: a slow consumer, a permissions violation, a failed drain.
    case error(NATSError)

    public var description: String {
        switch self {
        case .disconnected: "disconnected"
        case .reconnected(let url): "reconnected to \(url)"
        case .closed: "closed"
        case .lameDuckMode: "server entered lame-duck mode"
        case .error(let error): "error: \(error)"
        }
    }
}

/// Receives one connection's callbacks from libnats and passes them on to every listener.
///
/// libnats calls back on its own threads with a `void *closure`. That closure is not a pointer to this object
/// but a number that `ConnectionEventsRegistry` maps to it: a callback that arrives after the connection has
/// been destroyed (libnats posts the "closed" callback asynchronously, so it can) finds no entry and does
/// nothing, instead of touching freed memory.
final class ConnectionEvents: Sendable {
    let id: UInt
    let reconnect: NATSSettings.Reconnect
    let logger: Logger

    private struct State {
        var listeners: [Int: AsyncStream<NATSConnectionEvent>.Continuation] = [:]
        var nextListener = 0
        var closed = false
        /// Set when Ben itself closes the connection, so the disconnect that follows is not reported as a loss.
        var closing = false
        var closeWaiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Locked(State())

    init(reconnect: NATSSettings.Reconnect, logger: Logger) {
        self.id = ConnectionEventsRegistry.nextID()
        self.reconnect = reconnect
        self.logger = logger
    }

    var closure: UnsafeMutableRawPointer? { UnsafeMutableRawPointer(bitPattern: id) }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Ben is closing the connection on purpose (close, drain, release).
    func markClosing() { state.withLock { $0.closing = true } }

    /// A new listener's stream. A listener that arrives after the connection closed gets `.closed` and ends.
    func stream(bufferingNewest limit: Int) -> AsyncStream<NATSConnectionEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: NATSConnectionEvent.self, bufferingPolicy: .bufferingNewest(max(1, limit)))
        let key: Int? = state.withLock { state in
            guard !state.closed else { return nil }
            let key = state.nextListener
            state.nextListener += 1
            state.listeners[key] = continuation
            return key
        }
        guard let key else {
            continuation.yield(.closed)
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.listeners.removeValue(forKey: key) }
        }
        return stream
    }

    /// Passes an event to every listener; `.closed` also ends every listener's stream and wakes `drain()`.
    func emit(_ event: NATSConnectionEvent) {
        let isClose = event == .closed
        typealias Taken = (
            duplicate: Bool, listeners: [AsyncStream<NATSConnectionEvent>.Continuation],
            waiters: [CheckedContinuation<Void, Never>]
        )
        typealias TakenWithClosing = (taken: Taken, closing: Bool)
        let (taken, closing) = state.withLock { state -> TakenWithClosing in
            if isClose && state.closed { return ((true, [], []), state.closing) }
            let listeners = Array(state.listeners.values)
            var waiters: [CheckedContinuation<Void, Never>] = []
            if isClose {
                state.closed = true
                state.listeners = [:]
                waiters = state.closeWaiters
                state.closeWaiters = []
            }
            return ((false, listeners, waiters), state.closing)
        }
        let (duplicate, listeners, waiters) = taken
        if duplicate { return }
        log(event, closing: closing)
        // Outside the lock: finishing a stream runs its onTermination, which takes the lock.
        for listener in listeners {
            listener.yield(event)
            if isClose { listener.finish() }
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the connection has closed.
    func waitUntilClosed() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyClosed = state.withLock { state in
                if state.closed { return true }
                state.closeWaiters.append(continuation)
                return false
            }
            if alreadyClosed { continuation.resume() }
        }
    }

    private func log(_ event: NATSConnectionEvent, closing: Bool) {
        switch event {
        case .disconnected where closing: logger.debug("NATS connection closing")
        case .disconnected:
            logger.warning("NATS connection lost; reconnecting")
            Counter(label: "ben_nats_disconnects_total").increment()  // BenMetrics' Metric.natsDisconnects
        case .reconnected(let url):
            logger.info("NATS connection re-established", metadata: ["nats.url": "\(url)"])
            Counter(label: "ben_nats_reconnects_total").increment()  // BenMetrics' Metric.natsReconnects
        case .closed: logger.debug("NATS connection closed")
        case .lameDuckMode: logger.notice("NATS server is shutting down (lame-duck mode)")
        case .error(let error): logger.error("NATS asynchronous error", metadata: ["nats.error": "\(error)"])
        }
    }
}

/// Maps the numbers libnats carries as callback closures to live `ConnectionEvents`.
enum ConnectionEventsRegistry {
    private static let hubs = Locked<[UInt: ConnectionEvents]>([:])
    private static let counter = Atomic<UInt>(0)

    static func nextID() -> UInt { counter.wrappingAdd(1, ordering: .relaxed).newValue }

    static func register(_ events: ConnectionEvents) { hubs.withLock { $0[events.id] = events } }

    static func remove(_ id: UInt) { _ = hubs.withLock { $0.removeValue(forKey: id) } }

    static func lookup(_ closure: UnsafeMutableRawPointer?) -> ConnectionEvents? {
        guard let closure else { return nil }
        let id = UInt(bitPattern: closure)
        return hubs.withLock { $0[id] }
    }
}

// The C callbacks. They run on libnats's threads, copy what they need, and hand it on; they never block.

let disconnectedCallback: natsConnectionHandler = { _, closure in
    ConnectionEventsRegistry.lookup(closure)?.emit(.disconnected)
}

let reconnectedCallback: natsConnectionHandler = { connection, closure in
    guard let events = ConnectionEventsRegistry.lookup(closure) else { return }
    var buffer = [CChar](repeating: 0, count: 512)
    var url = ""
    if let connection, natsConnection_GetConnectedUrl(connection, &buffer, buffer.count) == NATS_OK {
        url = string(fromNullTerminated: buffer)
    }
    events.emit(.reconnected(url: url))
}

let closedCallback: natsConnectionHandler = { _, closure in
    ConnectionEventsRegistry.lookup(closure)?.emit(.closed)
}

let lameDuckCallback: natsConnectionHandler = { _, closure in
    ConnectionEventsRegistry.lookup(closure)?.emit(.lameDuckMode)
}

let asyncErrorCallback: natsErrHandler = { connection, subscription, status, closure in
    guard let events = ConnectionEventsRegistry.lookup(closure) else { return }
    var operation = "connection"
    if let subscription, let subject = natsSubscription_GetSubject(subscription) {
        operation = "subscription to \(String(cString: subject))"
    }
    // The server's own words, such as `Permissions Violation for Publish to "ben.demo.announce"`.
    var detail = ""
    var text: UnsafePointer<CChar>?
    if let connection, natsConnection_GetLastError(connection, &text) == status, let text {
        detail = NATSLibrary.withoutSourceLocation(String(cString: text))
    }
    events.emit(
        .error(
            NATSError(
                code: NATSLibrary.code(for: status, jetStreamCode: 0), operation: operation,
                statusText: NATSLibrary.text(of: status), status: Int(status.rawValue), detail: detail)))
}

/// libnats asks how long to wait before the next round of reconnect attempts (`attempts` counts rounds since
/// the connection was lost, from 1).
let reconnectDelayCallback: natsCustomReconnectDelayHandler = { _, attempts, closure in
    guard let events = ConnectionEventsRegistry.lookup(closure) else { return 100 }
    var generator = SystemRandomNumberGenerator()
    let delay = events.reconnect.jitteredDelay(beforeRound: Int(attempts), using: &generator)
    events.logger.debug(
        "NATS reconnect round", metadata: ["nats.attempt": "\(attempts)", "nats.delay": "\(describe(delay))"])
    return milliseconds(delay)
}
