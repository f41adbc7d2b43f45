import CNats
public import Logging

/// A connection to NATS: publish, subscribe, request/reply, and (through `jetStream()`) JetStream.
///
/// The API follows nats.swift's shape over libnats. The connection reconnects by itself when the server goes
/// away (see `NATSSettings.Reconnect`): publishes made meanwhile are buffered and sent on reconnect, and
/// subscriptions keep delivering once it is back. `events()` reports disconnects, reconnects and the final
/// close. Every failing call throws `NATSError`, which carries NATS's own status text.
///
/// The connection is closed when `close()` or `drain()` is called, or when the last reference to it (including
/// the references that its subscriptions and received messages hold) goes away.
public final class NATSConnection: Sendable {
    let handle: ConnectionHandle
    /// The servers this connection was given.
    public let servers: [String]
    public let settings: NATSSettings
    let logger: Logger

    private init(handle: ConnectionHandle, servers: [String], settings: NATSSettings, logger: Logger) {
        self.handle = handle
        self.servers = servers
        self.settings = settings
        self.logger = logger
    }

    /// Connects to the NATS server at `url` (`nats://host:port`).
    public static func connect(
        to url: String, settings: NATSSettings = NATSSettings(), logger: Logger = Logger(label: "ben.nats")
    ) async throws(NATSError) -> NATSConnection {
        try await connect(to: [url], settings: settings, logger: logger)
    }

    /// Connects to the first server of `urls` that answers; on a lost connection it reconnects to any of them.
    ///
    /// Throws `.noServer` when none answers (after `settings.reconnect.maxAttempts` rounds with backoff if
    /// `retryInitialConnect` is set), `.cancelled` if the task is cancelled while waiting to retry.
    public static func connect(
        to urls: [String], settings: NATSSettings = NATSSettings(), logger: Logger = Logger(label: "ben.nats")
    ) async throws(NATSError) -> NATSConnection {
        try NATSLibrary.open()
        let operation = "connect to \(urls.joined(separator: ", "))"
        guard !urls.isEmpty else { throw NATSLibrary.invalidArgument(operation, "no server URL given") }
        var round = 0
        var refusals = 0
        while true {
            do {
                let handle = try await ConnectionHandle.connect(
                    urls: urls, settings: settings, logger: logger, operation: operation)
                logger.debug("NATS connected", metadata: ["nats.url": "\(handle.connectedURL ?? "")"])
                return NATSConnection(handle: handle, servers: urls, settings: settings, logger: logger)
            } catch where error.code == .authentication && settings.credentialsFile != nil && refusals < authenticationAttempts - 1 {
                // libnats before 3.8 (Debian's is 3.4.1) sends no signature when the nonce's signature starts with a
                // zero byte (nats.c#705): 1 in 256 attempts with good credentials is refused. Each attempt signs a new
                // nonce, so a few more attempts make that vanish; bad credentials are refused every time.
                refusals += 1
                logger.debug("NATS refused the credentials; trying again", metadata: ["nats.attempt": "\(refusals + 1)"])
            } catch where error.code == .noServer && settings.reconnect.retryInitialConnect {
                round += 1
                if let max = settings.reconnect.maxAttempts, round > max { throw error }
                var generator = SystemRandomNumberGenerator()
                let delay = settings.reconnect.jitteredDelay(beforeRound: round, using: &generator)
                logger.warning(
                    "NATS server not reachable; retrying",
                    metadata: [
                        "nats.attempt": "\(round)", "nats.delay": "\(describe(delay))", "nats.error": "\(error)",
                    ])
                try await sleep(for: delay, operation: operation)
            }
        }
    }

    // MARK: Publish, subscribe, request

    /// Publishes `payload` to `subject`. Returns once libnats has taken the message: written to the socket (with
    /// `sendAsap`), queued for its flusher, or buffered while reconnecting. It does not wait for the server; use
    /// `flush()` for that, or JetStream's `publish` for an acknowledgement.
    public func publish(
        _ payload: [UInt8], subject: String, reply: String? = nil, headers: NATSHeaders? = nil
    ) async throws(NATSError) {
        try handle.publish(
            payload, subject: subject, reply: reply, headers: headers, operation: "publish to \(subject)")
    }

    /// Subscribes to `subject` (wildcards allowed). With a `queue` group, each message goes to one member of the
    /// group only.
    ///
    /// The subscription is an `AsyncSequence` of messages. It unsubscribes when the task iterating it is
    /// cancelled, when it is dropped, or on `unsubscribe()`; it ends when the connection closes. Interest reaches
    /// the server asynchronously: call `flush()` after subscribing if a message published right afterwards by
    /// someone else must not be missed. At most `pendingLimit` messages wait for the consumer; beyond that new
    /// messages are dropped and reported as a `.slowConsumer` error event, as NATS does.
    public func subscribe(
        subject: String, queue: String? = nil, pendingLimit: Int = 65_536
    ) async throws(NATSError) -> NATSSubscription {
        try NATSSubscription(connection: handle, subject: subject, queue: queue, pendingLimit: pendingLimit)
    }

    /// Sends a request and waits up to `timeout` for the first answer.
    ///
    /// Throws `.timeout` when nothing answers in time, `.noResponders` at once when nothing is subscribed to
    /// the subject, and `.disconnected` when the connection drops while waiting (with
    /// `failRequestsOnDisconnect`). The wait runs on a thread of BenNATS's own (libnats's request call blocks),
    /// so it does not hold up Swift's cooperative pool; it cannot be cancelled once sent, only timed out.
    public func request(
        _ payload: [UInt8], subject: String, headers: NATSHeaders? = nil, timeout: Duration = .seconds(5)
    ) async throws(NATSError) -> NATSMessage {
        let handle = self.handle
        return try await BlockingCalls.shared.run { () throws(NATSError) -> NATSMessage in
            try handle.request(payload, subject: subject, headers: headers, timeout: timeout)
        }
    }

    /// Waits until the server has processed everything sent so far (a PING/PONG round trip).
    public func flush(timeout: Duration = .seconds(5)) async throws(NATSError) {
        let handle = self.handle
        try await BlockingCalls.shared.run { () throws(NATSError) in
            try NATSLibrary.check(
                natsConnection_FlushTimeout(handle.pointer, milliseconds(timeout)),
                "flush (waited up to \(describe(timeout)))")
        }
    }

    // MARK: Lifecycle

    /// Closes the connection at once: buffered publishes are flushed briefly, subscriptions end. Idempotent.
    public func close() async {
        let handle = self.handle
        handle.events.markClosing()
        try? await BlockingCalls.shared.run { () throws(NATSError) in natsConnection_Close(handle.pointer) }
        // The connection is closed now. libnats reports it (after "disconnected") through its callback thread;
        // wait for that so listeners see the events in order, but never hang on it.
        let events = handle.events
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await events.waitUntilClosed() }
            group.addTask { try? await Task.sleep(for: .seconds(5)) }
            await group.next()
            group.cancelAll()
            events.emit(.closed)  // no-op if libnats's callback came first; otherwise ends the wait above
        }
    }

    /// Closes gracefully: stops every subscription from receiving more, lets each finish what it has already
    /// received, flushes publishes, then closes. Returns once closed; `timeout` bounds the whole drain.
    public func drain(timeout: Duration = .seconds(30)) async throws(NATSError) {
        try NATSLibrary.check(
            natsConnection_DrainTimeout(handle.pointer, milliseconds(timeout)), "drain the connection")
        handle.events.markClosing()
        await handle.events.waitUntilClosed()
    }

    /// A stream of this connection's events from now on (disconnected, reconnected, closed, asynchronous
    /// errors). Each call makes a new, independent stream; it ends after `.closed`. If the consumer falls
    /// behind by more than `bufferingNewest` events, the oldest are dropped.
    public func events(bufferingNewest: Int = 256) -> AsyncStream<NATSConnectionEvent> {
        handle.events.stream(bufferingNewest: bufferingNewest)
    }

    /// The connection's state now.
    public var status: Status { Status(natsConnection_Status(handle.pointer)) }

    /// The URL of the server currently connected to, or nil while not connected.
    public var connectedURL: String? { handle.connectedURL }

    public enum Status: String, Sendable, Hashable, CustomStringConvertible {
        case connecting, connected, reconnecting, disconnected, draining, closed

        init(_ status: natsConnStatus) {
            switch status {
            case NATS_CONN_STATUS_CONNECTING: self = .connecting
            case NATS_CONN_STATUS_CONNECTED: self = .connected
            case NATS_CONN_STATUS_RECONNECTING: self = .reconnecting
            case NATS_CONN_STATUS_DRAINING_SUBS, NATS_CONN_STATUS_DRAINING_PUBS: self = .draining
            case NATS_CONN_STATUS_CLOSED: self = .closed
            default: self = .disconnected
            }
        }

        public var description: String { rawValue }
    }
}

/// How many times a connect whose credentials are refused is tried (see `NATSConnection.connect`).
let authenticationAttempts = 8

/// Sleeps without blocking a thread; cancellation becomes a `NATSError` with code `.cancelled`.
func sleep(for duration: Duration, operation: String) async throws(NATSError) {
    do {
        try await Task.sleep(for: duration)
    } catch {
        throw NATSError(
            code: .cancelled, operation: operation, statusText: "Cancelled", detail: "the task was cancelled")
    }
}

/// Owns one libnats connection (`natsConnection *`) and destroys it when the last Swift reference goes.
///
/// `@unchecked Sendable` is safe: libnats's connection is thread-safe (each public function takes the
/// connection's own lock), `pointer` never changes, and it is destroyed only in `deinit`, when no Swift code
/// can reach it any more.
final class ConnectionHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    let events: ConnectionEvents

    private init(pointer: OpaquePointer, events: ConnectionEvents) {
        self.pointer = pointer
        self.events = events
    }

    static func connect(
        urls: [String], settings: NATSSettings, logger: Logger, operation: String
    ) async throws(NATSError) -> ConnectionHandle {
        let events = ConnectionEvents(reconnect: settings.reconnect, logger: logger)
        ConnectionEventsRegistry.register(events)
        do {
            let pointer = try await BlockingCalls.shared.run { () throws(NATSError) -> UncheckedPointer in
                try UncheckedPointer(
                    connect(urls: urls, settings: settings, closure: events.closure, operation: operation))
            }
            return ConnectionHandle(pointer: pointer.raw, events: events)
        } catch {
            ConnectionEventsRegistry.remove(events.id)
            throw error
        }
    }

    /// Builds libnats options from `settings` and connects (blocking).
    private static func connect(
        urls: [String], settings: NATSSettings, closure: UnsafeMutableRawPointer?, operation: String
    ) throws(NATSError) -> OpaquePointer {
        var options: OpaquePointer?
        try NATSLibrary.check(natsOptions_Create(&options), "\(operation): create options")
        defer { natsOptions_Destroy(options) }
        let strings = CStrings()
        func set(_ status: natsStatus, _ what: String) throws(NATSError) {
            try NATSLibrary.check(status, "\(operation): set \(what)")
        }
        try set(natsOptions_SetServers(options, strings.array(urls), Int32(urls.count)), "servers")
        if let name = settings.name { try set(natsOptions_SetName(options, name), "name") }
        if let path = settings.credentialsFile {
            switch try NATSCredentials.read(path) {
            case .userJWT:
                try set(natsOptions_SetUserCredentialsFromFiles(options, path, nil), "credentials file \(path)")
            case .nkey(let publicKey):
                try set(natsOptions_SetNKeyFromSeed(options, publicKey, path), "nkey credentials \(path)")
                try set(natsOptions_SetCustomInboxPrefix(options, NATSCredentials.inboxPrefix(publicKey: publicKey)), "inbox prefix")
            }
        }
        try set(natsOptions_SetTimeout(options, milliseconds(settings.connectTimeout)), "connect timeout")
        try set(natsOptions_SetAllowReconnect(options, settings.reconnect.enabled), "reconnect")
        try set(natsOptions_SetMaxReconnect(options, Int32(settings.reconnect.maxAttempts ?? -1)), "max reconnect")
        try set(natsOptions_SetCustomReconnectDelay(options, reconnectDelayCallback, closure), "reconnect delay")
        try set(natsOptions_SetPingInterval(options, milliseconds(settings.pingInterval)), "ping interval")
        try set(natsOptions_SetMaxPingsOut(options, Int32(settings.maxPingsOutstanding)), "max pings out")
        try set(natsOptions_SetReconnectBufSize(options, Int32(settings.reconnectBufferSize)), "reconnect buffer")
        try set(natsOptions_SetSendAsap(options, settings.sendAsap), "send asap")
        try set(natsOptions_SetFailRequestsOnDisconnect(options, settings.failRequestsOnDisconnect), "fail requests")
        try set(natsOptions_SetNoEcho(options, settings.noEcho), "no echo")
        try set(natsOptions_SetDisconnectedCB(options, disconnectedCallback, closure), "disconnected callback")
        try set(natsOptions_SetReconnectedCB(options, reconnectedCallback, closure), "reconnected callback")
        try set(natsOptions_SetClosedCB(options, closedCallback, closure), "closed callback")
        try set(natsOptions_SetLameDuckModeCB(options, lameDuckCallback, closure), "lame-duck callback")
        try set(natsOptions_SetErrorHandler(options, asyncErrorCallback, closure), "error handler")
        var connection: OpaquePointer?
        try NATSLibrary.check(natsConnection_Connect(&connection, options), operation)
        return connection!
    }

    var connectedURL: String? {
        var buffer = [CChar](repeating: 0, count: 512)
        guard natsConnection_GetConnectedUrl(pointer, &buffer, buffer.count) == NATS_OK, buffer[0] != 0 else {
            return nil
        }
        return string(fromNullTerminated: buffer)
    }

    /// Publishes inline: libnats writes to its buffer or socket without waiting for the server.
    func publish(
        _ payload: [UInt8], subject: String, reply: String?, headers: NATSHeaders?, operation: @autoclosure () -> String
    ) throws(NATSError) {
        if let headers, !headers.isEmpty {
            let message = try makeMessage(
                payload, subject: subject, reply: reply, headers: headers, operation: operation())
            defer { natsMsg_Destroy(message) }
            try NATSLibrary.check(natsConnection_PublishMsg(pointer, message), operation())
            return
        }
        let status = try withPayload(payload, operation: operation()) { data, count in
            if let reply {
                natsConnection_PublishRequest(pointer, subject, reply, data, count)
            } else {
                natsConnection_Publish(pointer, subject, data, count)
            }
        }
        try NATSLibrary.check(status, operation())
    }

    /// A blocking request; run it on `BlockingCalls`.
    func request(
        _ payload: [UInt8], subject: String, headers: NATSHeaders?, timeout: Duration
    ) throws(NATSError) -> NATSMessage {
        let operation = "request to \(subject) (waited up to \(describe(timeout)))"
        var answer: OpaquePointer?
        let status: natsStatus
        if let headers, !headers.isEmpty {
            let message = try makeMessage(payload, subject: subject, reply: nil, headers: headers, operation: operation)
            defer { natsMsg_Destroy(message) }
            status = natsConnection_RequestMsg(&answer, pointer, message, milliseconds(timeout))
        } else {
            status = try withPayload(payload, operation: operation) { data, count in
                natsConnection_Request(&answer, pointer, subject, data, count, milliseconds(timeout))
            }
        }
        if status == NATS_TIMEOUT, let refusal = permissionViolation(on: subject, operation: operation) { throw refusal }
        try NATSLibrary.check(status, operation)
        defer { natsMsg_Destroy(answer) }
        return NATSMessage(copying: answer!, connection: self)
    }

    /// The server refuses a publish the client cannot see fail (it reports the violation asynchronously), so a
    /// request whose subject this identity may not publish to would only time out: when the connection's last
    /// error is a permissions violation on `subject`, that is the answer instead.
    func permissionViolation(on subject: String, operation: String) -> NATSError? {
        var text: UnsafePointer<CChar>?
        guard natsConnection_GetLastError(pointer, &text) == NATS_NOT_PERMITTED, let text else { return nil }
        let detail = NATSLibrary.withoutSourceLocation(String(cString: text))
        guard detail.contains("\"\(subject)\"") else { return nil }
        return NATSError(
            code: .notPermitted, operation: operation, statusText: NATSLibrary.text(of: NATS_NOT_PERMITTED),
            status: Int(NATS_NOT_PERMITTED.rawValue), detail: detail)
    }

    /// A libnats message with headers; the caller destroys it.
    func makeMessage(
        _ payload: [UInt8], subject: String, reply: String?, headers: NATSHeaders, operation: @autoclosure () -> String
    ) throws(NATSError) -> OpaquePointer {
        var message: OpaquePointer?
        let status = try withPayload(payload, operation: operation()) { data, count in
            natsMsg_Create(&message, subject, reply, data, count)
        }
        try NATSLibrary.check(status, operation())
        do throws(NATSError) {
            try headers.add(to: message!, operation: operation())
        } catch {
            natsMsg_Destroy(message)
            throw error
        }
        return message!
    }

    deinit {
        // natsConnection_Destroy flushes (up to half a second) and joins libnats's threads: do it off the
        // cooperative pool, and never on one of libnats's own threads, where the last reference may go.
        let pointer = UncheckedPointer(pointer)
        let events = self.events
        events.markClosing()
        BlockingCalls.shared.submit {
            natsConnection_Destroy(pointer.raw)
            ConnectionEventsRegistry.remove(events.id)
            events.emit(.closed)
        }
    }
}

/// A C pointer carried across threads by code that owns it (see `ConnectionHandle`).
struct UncheckedPointer: @unchecked Sendable {
    let raw: OpaquePointer
    init(_ raw: OpaquePointer) { self.raw = raw }
}
