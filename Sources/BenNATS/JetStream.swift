import CNats
import Glibc

extension NATSConnection {
    /// JetStream on this connection. `apiTimeout` bounds each JetStream API request (stream management, reading
    /// messages); publishes have their own `PublishOptions.ackTimeout`.
    public func jetStream(apiTimeout: Duration = .seconds(5)) throws(NATSError) -> JetStream {
        var options = jsOptions()
        try NATSLibrary.check(jsOptions_Init(&options), "set up JetStream options")
        options.Wait = milliseconds(apiTimeout)
        var context: OpaquePointer?
        try NATSLibrary.check(natsConnection_JetStream(&context, handle.pointer, &options), "open JetStream")
        return JetStream(context: JetStreamHandle(pointer: context!, connection: handle), connection: self)
    }
}

/// JetStream: streams, publishing with an acknowledgement, and reading stored messages.
///
/// Ben keeps each fleet's announcements in a stream that holds a bounded history of its subject
/// (`NATSSubjects.announceStream`); a node that was down reads it back with `messages(stream:subject:limit:)`.
public struct JetStream: Sendable {
    let context: JetStreamHandle
    let connection: NATSConnection

    // MARK: Streams

    /// Creates the stream, or brings an existing stream of that name to `config` (some fields, such as
    /// `storage`, cannot change on a live stream; the server refuses those with a JetStream error). Idempotent.
    ///
    /// With `neverLowerReplicas`, an existing stream that keeps more copies than `config.replicas` keeps them:
    /// the update asks for the existing count instead (a cluster an operator scaled up stays scaled up).
    @discardableResult
    public func createOrUpdateStream(_ config: StreamConfig, neverLowerReplicas: Bool = false) async throws(NATSError) -> StreamInfo {
        var wanted = config
        if neverLowerReplicas, let existing = try await streamInfo(config.name), existing.config.replicas > config.replicas {
            wanted.replicas = existing.config.replicas
        }
        let config = wanted
        let context = self.context
        return try await BlockingCalls.shared.run { () throws(NATSError) -> StreamInfo in
            try context.withConfig(config) { (cfg) throws(NATSError) -> StreamInfo in
                var info: UnsafeMutablePointer<jsStreamInfo>?
                var code = jsErrCode(rawValue: 0)
                var status = js_AddStream(&info, context.pointer, cfg, nil, &code)
                if status != NATS_OK && code == JSStreamNameExistErr {
                    // The stream exists with another configuration: update it.
                    code = jsErrCode(rawValue: 0)
                    status = js_UpdateStream(&info, context.pointer, cfg, nil, &code)
                    try NATSLibrary.check(status, "update stream \(config.name)", jetStreamCode: code)
                } else {
                    try NATSLibrary.check(status, "create stream \(config.name)", jetStreamCode: code)
                }
                defer { jsStreamInfo_Destroy(info) }
                return StreamInfo(info!.pointee)
            }
        }
    }

    /// The stream's configuration and state, or nil if there is no stream of that name.
    public func streamInfo(_ name: String) async throws(NATSError) -> StreamInfo? {
        let context = self.context
        return try await BlockingCalls.shared.run { () throws(NATSError) -> StreamInfo? in
            var info: UnsafeMutablePointer<jsStreamInfo>?
            var code = jsErrCode(rawValue: 0)
            let status = js_GetStreamInfo(&info, context.pointer, name, nil, &code)
            if status == NATS_NOT_FOUND || code == JSStreamNotFoundErr { return nil }
            try NATSLibrary.check(status, "read stream \(name)", jetStreamCode: code)
            defer { jsStreamInfo_Destroy(info) }
            return StreamInfo(info!.pointee)
        }
    }

    /// Deletes the stream and every message in it.
    public func deleteStream(_ name: String) async throws(NATSError) {
        try await perform("delete stream \(name)") { context, code in js_DeleteStream(context, name, nil, &code) }
    }

    /// Removes every message from the stream and keeps the stream.
    public func purgeStream(_ name: String) async throws(NATSError) {
        try await perform("purge stream \(name)") { context, code in js_PurgeStream(context, name, nil, &code) }
    }

    /// Runs one of libnats's JetStream calls (`call`, given the context and an error code to set) off the
    /// caller's thread; a failure throws, naming `operation`.
    private func perform(
        _ operation: String, _ call: @escaping @Sendable (OpaquePointer, inout jsErrCode) -> natsStatus
    ) async throws(NATSError) {
        let context = self.context
        try await BlockingCalls.shared.run { () throws(NATSError) in
            var code = jsErrCode(rawValue: 0)
            let status = call(context.pointer, &code)
            try NATSLibrary.check(status, operation, jetStreamCode: code)
        }
    }

    // MARK: Publish

    /// Publishes to a subject that a stream captures and returns the server's acknowledgement: the message is
    /// stored in `ack.stream` at `ack.sequence`.
    ///
    /// When the server is briefly away (disconnected, reconnecting, JetStream not ready, no acknowledgement in
    /// time) the publish is retried with backoff for up to `options.retryFor`. Every attempt carries the same
    /// message ID (`options.messageID`, or one made up for this call), so the server stores the message once
    /// however many attempts reach it; a repeat is acknowledged with `duplicate` set and the original sequence.
    /// Errors that a retry cannot cure (a failed expectation, no stream captures the subject, a closed
    /// connection) are thrown at once.
    public func publish(
        _ payload: [UInt8], subject: String, headers: NATSHeaders? = nil, options: PublishOptions = PublishOptions()
    ) async throws(NATSError) -> PublishAck {
        var options = options
        if options.messageID == nil { options.messageID = makeMessageID() }
        let operation = "publish to \(subject) with acknowledgement"
        let clock = ContinuousClock()
        let deadline = clock.now + options.retryFor
        var delay = Duration.milliseconds(25)
        var attempt = 0
        while true {
            attempt += 1
            let status = connection.status
            if status == .closed {
                throw NATSError(
                    code: .connectionClosed, operation: operation,
                    statusText: NATSLibrary.text(of: NATS_CONNECTION_CLOSED),
                    status: Int(NATS_CONNECTION_CLOSED.rawValue))
            }
            var failure: NATSError
            if status == .connected || status == .draining {
                do {
                    let context = self.context
                    let attemptOptions = options
                    return try await BlockingCalls.shared.run { () throws(NATSError) -> PublishAck in
                        try context.publish(payload, subject: subject, headers: headers, options: attemptOptions)
                    }
                } catch {
                    failure = error
                }
                if failure.code == .noResponders {
                    // JetStream is up before a server accepts clients, so "no responders" means no stream
                    // captures the subject: retrying will not help.
                    failure.detail = "no JetStream stream captures \(subject)"
                    throw failure
                }
                if !failure.isTransient { throw failure }
            } else {
                // Reconnecting: do not pile more copies into libnats's reconnect buffer; wait and look again.
                failure = NATSError(
                    code: .disconnected, operation: operation,
                    statusText: NATSLibrary.text(of: NATS_CONNECTION_DISCONNECTED),
                    status: Int(NATS_CONNECTION_DISCONNECTED.rawValue), detail: "the connection is \(status)")
            }
            if clock.now + delay > deadline {
                failure.operation += " (gave up after \(attempt) attempts over \(describe(options.retryFor)))"
                throw failure
            }
            connection.logger.debug(
                "JetStream publish will be retried",
                metadata: ["nats.subject": "\(subject)", "nats.attempt": "\(attempt)", "nats.error": "\(failure)"])
            try await sleep(for: delay, operation: operation)
            delay = min(delay * 2, .milliseconds(500))
        }
    }

    // MARK: Read

    /// The last message stored for `subject` in `stream`, or nil if the stream holds none for it. Throws if the
    /// stream does not exist.
    public func lastMessage(stream: String, subject: String) async throws(NATSError) -> StoredMessage? {
        try await storedMessage("read the last message on \(subject) in stream \(stream)") { context, message, code in
            js_GetLastMsg(&message, context, stream, subject, nil, &code)
        }
    }

    /// The message at `sequence` in `stream`, or nil if there is none (never stored, deleted, or past the end).
    public func message(stream: String, sequence: UInt64) async throws(NATSError) -> StoredMessage? {
        try await storedMessage("read message \(sequence) of stream \(stream)") { context, message, code in
            js_GetMsg(&message, context, stream, sequence, nil, &code)
        }
    }

    /// Runs one of libnats's message reads (`get`, given the JetStream context) off the caller's thread. Nil when
    /// the stream has no such message; any other failure throws, naming `operation`.
    private func storedMessage(
        _ operation: String,
        _ get: @escaping @Sendable (OpaquePointer, inout OpaquePointer?, inout jsErrCode) -> natsStatus
    ) async throws(NATSError) -> StoredMessage? {
        let context = self.context
        return try await BlockingCalls.shared.run { () throws(NATSError) -> StoredMessage? in
            var message: OpaquePointer?
            var code = jsErrCode(rawValue: 0)
            let status = get(context.pointer, &message, &code)
            if code == JSNoMessageFoundErr || (status == NATS_NOT_FOUND && code.rawValue == 0) { return nil }
            try NATSLibrary.check(status, operation, jetStreamCode: code)
            defer { natsMsg_Destroy(message) }
            return StoredMessage(copying: message!)
        }
    }

    /// The messages `stream` holds for `subject`, oldest first: the newest `limit` of them. Empty if it holds none
    /// for `subject`; throws if the stream does not exist.
    ///
    /// It reads back from the stream's last sequence one message at a time (`js_GetMsg`) and looks at no more
    /// than the last `limit` sequences, so it suits a stream that captures `subject` alone and keeps a bounded
    /// history of it: the fleet's announcement stream, whose history a catching-up node reads
    /// (`NATSSubjects.announceHistory`). Sequences deleted meanwhile are skipped.
    public func messages(stream: String, subject: String, limit: Int) async throws(NATSError) -> [StoredMessage] {
        guard limit > 0 else { return [] }
        guard let info = try await streamInfo(stream) else {
            throw NATSError(
                code: .jetStream, operation: "read the messages on \(subject) in stream \(stream)",
                statusText: NATSLibrary.text(of: NATS_NOT_FOUND), status: Int(NATS_NOT_FOUND.rawValue),
                detail: "stream not found", jetStreamCode: Int(JSStreamNotFoundErr.rawValue))
        }
        guard info.messages > 0, info.lastSequence >= info.firstSequence else { return [] }
        let first = max(info.firstSequence, info.lastSequence >= UInt64(limit) ? info.lastSequence - UInt64(limit) + 1 : 1)
        let last = info.lastSequence
        let context = self.context
        return try await BlockingCalls.shared.run { () throws(NATSError) -> [StoredMessage] in
            var found: [StoredMessage] = []
            for sequence in first...last {
                var message: OpaquePointer?
                var code = jsErrCode(rawValue: 0)
                let status = js_GetMsg(&message, context.pointer, stream, sequence, nil, &code)
                if code == JSNoMessageFoundErr || (status == NATS_NOT_FOUND && code.rawValue == 0) { continue }
                try NATSLibrary.check(status, "read message \(sequence) of stream \(stream)", jetStreamCode: code)
                defer { natsMsg_Destroy(message) }
                let stored = StoredMessage(copying: message!)
                if stored.subject == subject { found.append(stored) }
            }
            return found
        }
    }

    private func makeMessageID() -> String {
        var generator = SystemRandomNumberGenerator()
        let words = [generator.next(), generator.next()] as [UInt64]
        return "ben-" + words.map { String($0, radix: 16) }.joined(separator: "-")
    }
}

extension JetStream {
    /// How a stream is configured (the fields Ben uses; the rest keep JetStream's defaults).
    public struct StreamConfig: Sendable, Hashable {
        public enum Storage: String, Sendable, Hashable { case file, memory }
        public enum Retention: String, Sendable, Hashable {
            case limits, interest
            case workQueue = "workqueue"
        }
        public enum Discard: String, Sendable, Hashable { case old, new }

        /// The stream's name (no `.`, `*`, `>` or spaces).
        public var name: String
        /// The subjects whose messages the stream stores (wildcards allowed).
        public var subjects: [String]
        public var description: String?
        /// Default `.file`: messages survive a server restart.
        public var storage: Storage = .file
        public var retention: Retention = .limits
        /// Messages kept per subject; nil for no limit. 1 keeps only the latest message of each subject.
        public var maxMessagesPerSubject: Int?
        /// Messages kept in all; nil for no limit.
        public var maxMessages: Int?
        /// Bytes kept in all; nil for no limit.
        public var maxBytes: Int?
        /// How long a message is kept; nil for ever.
        public var maxAge: Duration?
        /// The largest message accepted; nil for the server's limit.
        public var maxMessageSize: Int?
        /// What goes when a limit is reached: the oldest messages (default), or the new one is refused.
        public var discard: Discard = .old
        /// Copies kept in a cluster. Default 1.
        public var replicas = 1
        /// The window in which a repeated message ID is recognised as a duplicate; nil for the server's default
        /// (2 minutes).
        public var duplicateWindow: Duration?
        /// Refuse deleting single messages, or purging the stream.
        public var denyDelete = false
        public var denyPurge = false
        /// Allow a message with the `Nats-Rollup` header to replace a subject's earlier messages.
        public var allowRollup = false

        public init(name: String, subjects: [String]) {
            self.name = name
            self.subjects = subjects
        }
    }

    /// A stream's configuration and state, as the server reports it.
    public struct StreamInfo: Sendable, Hashable {
        public var config: StreamConfig
        /// Messages stored now.
        public var messages: UInt64
        public var bytes: UInt64
        public var firstSequence: UInt64
        public var lastSequence: UInt64
        /// Distinct subjects with messages stored.
        public var subjectCount: Int64
    }

    public struct PublishOptions: Sendable, Hashable {
        /// How long one attempt waits for the server's acknowledgement. Default 2 s.
        public var ackTimeout: Duration = .seconds(2)
        /// How long to keep retrying while the server is away or slow (see `publish`). Default 10 s; zero makes
        /// one attempt only.
        public var retryFor: Duration = .seconds(10)
        /// The message ID (`Nats-Msg-Id`) the server deduplicates on. Give one derived from the content (e.g.
        /// "announce-v42") to make the publish idempotent across process restarts too; nil makes one per call.
        public var messageID: String?
        /// Refuse unless the subject is captured by this stream.
        public var expectedStream: String?
        /// Refuse unless the stream's last sequence is this (optimistic concurrency on the whole stream; 0 sets
        /// no expectation).
        public var expectedLastSequence: UInt64?
        /// Refuse unless the last message on this subject has this sequence (0: unless there is none).
        public var expectedLastSubjectSequence: UInt64?

        public init() {}
    }

    /// The server's acknowledgement of a stored message.
    public struct PublishAck: Sendable, Hashable {
        public var stream: String
        public var sequence: UInt64
        /// The server had already stored a message with this message ID; `sequence` is the original's.
        public var duplicate: Bool
    }

    /// A message as a stream stores it.
    public struct StoredMessage: Sendable, Hashable {
        public var subject: String
        public var sequence: UInt64
        /// When the server stored it, in nanoseconds since 1970-01-01 UTC.
        public var timeNanoseconds: Int64
        public var payload: [UInt8]
        public var headers: NATSHeaders

        init(copying message: OpaquePointer) {
            subject = String(cString: natsMsg_GetSubject(message))
            sequence = natsMsg_GetSequence(message)
            timeNanoseconds = natsMsg_GetTime(message)
            payload = copyPayload(of: message)
            headers = NATSHeaders(copying: message)
        }

        /// The payload as UTF-8 text (invalid bytes are replaced).
        public var text: String { String(decoding: payload, as: UTF8.self) }
    }
}

extension JetStream.StreamInfo {
    init(_ info: jsStreamInfo) {
        config =
            info.Config.map { JetStream.StreamConfig($0.pointee) } ?? JetStream.StreamConfig(name: "", subjects: [])
        messages = info.State.Msgs
        bytes = info.State.Bytes
        firstSequence = info.State.FirstSeq
        lastSequence = info.State.LastSeq
        subjectCount = info.State.NumSubjects
    }
}

extension JetStream.StreamConfig {
    init(_ c: jsStreamConfig) {
        name = c.Name.map { String(cString: $0) } ?? ""
        subjects = (0..<Int(c.SubjectsLen)).compactMap { c.Subjects?[$0].map { String(cString: $0) } }
        description = c.Description.map { String(cString: $0) }
        storage = c.Storage == js_MemoryStorage ? .memory : .file
        retention =
            switch c.Retention {
            case js_InterestPolicy: .interest
            case js_WorkQueuePolicy: .workQueue
            default: .limits
            }
        maxMessagesPerSubject = c.MaxMsgsPerSubject > 0 ? Int(c.MaxMsgsPerSubject) : nil
        maxMessages = c.MaxMsgs > 0 ? Int(c.MaxMsgs) : nil
        maxBytes = c.MaxBytes > 0 ? Int(c.MaxBytes) : nil
        maxAge = c.MaxAge > 0 ? .nanoseconds(c.MaxAge) : nil
        maxMessageSize = c.MaxMsgSize > 0 ? Int(c.MaxMsgSize) : nil
        discard = c.Discard == js_DiscardNew ? .new : .old
        replicas = Int(c.Replicas)
        duplicateWindow = c.Duplicates > 0 ? .nanoseconds(c.Duplicates) : nil
        denyDelete = c.DenyDelete
        denyPurge = c.DenyPurge
        allowRollup = c.AllowRollup
    }
}

/// Owns one `jsCtx *` (which keeps its connection alive in libnats too).
///
/// `@unchecked Sendable` is safe: libnats's JetStream context is thread-safe for the calls BenNATS makes (each
/// is a request on the thread-safe connection), `pointer` never changes, and it is destroyed only in `deinit`.
final class JetStreamHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    let connection: ConnectionHandle

    init(pointer: OpaquePointer, connection: ConnectionHandle) {
        self.pointer = pointer
        self.connection = connection
    }

    /// Calls `body` with a libnats stream configuration built from `config`; its strings live for the call.
    func withConfig<R>(
        _ config: JetStream.StreamConfig, _ body: (UnsafeMutablePointer<jsStreamConfig>) throws(NATSError) -> R
    ) throws(NATSError) -> R {
        var c = jsStreamConfig()
        try NATSLibrary.check(jsStreamConfig_Init(&c), "set up stream \(config.name)")
        let strings = CStrings()
        c.Name = UnsafePointer(strings.dup(config.name))
        c.Description = strings.dup(config.description)
        c.Subjects = UnsafeMutablePointer(mutating: strings.array(config.subjects))
        c.SubjectsLen = Int32(config.subjects.count)
        c.Storage = config.storage == .memory ? js_MemoryStorage : js_FileStorage
        c.Retention =
            switch config.retention {
            case .limits: js_LimitsPolicy
            case .interest: js_InterestPolicy
            case .workQueue: js_WorkQueuePolicy
            }
        c.MaxMsgsPerSubject = Int64(config.maxMessagesPerSubject ?? -1)
        c.MaxMsgs = Int64(config.maxMessages ?? -1)
        c.MaxBytes = Int64(config.maxBytes ?? -1)
        c.MaxAge = config.maxAge.map(nanoseconds) ?? 0
        c.MaxMsgSize = Int32(config.maxMessageSize ?? -1)
        c.Discard = config.discard == .new ? js_DiscardNew : js_DiscardOld
        c.Replicas = Int64(config.replicas)
        c.Duplicates = config.duplicateWindow.map(nanoseconds) ?? 0
        c.DenyDelete = config.denyDelete
        c.DenyPurge = config.denyPurge
        c.AllowRollup = config.allowRollup
        return try withExtendedLifetime(strings) { () throws(NATSError) -> R in try body(&c) }
    }

    /// One blocking publish attempt; run it on `BlockingCalls`.
    func publish(
        _ payload: [UInt8], subject: String, headers: NATSHeaders?, options: JetStream.PublishOptions
    ) throws(NATSError) -> JetStream.PublishAck {
        let operation = "publish to \(subject) with acknowledgement (waited up to \(describe(options.ackTimeout)))"
        let message = try connection.makeMessage(
            payload, subject: subject, reply: nil, headers: headers ?? NATSHeaders(), operation: operation)
        defer { natsMsg_Destroy(message) }
        var publishOptions = jsPubOptions()
        try NATSLibrary.check(jsPubOptions_Init(&publishOptions), operation)
        let strings = CStrings()
        publishOptions.MaxWait = milliseconds(options.ackTimeout)
        publishOptions.MsgId = strings.dup(options.messageID)
        publishOptions.ExpectStream = strings.dup(options.expectedStream)
        publishOptions.ExpectLastSeq = options.expectedLastSequence ?? 0
        if let expected = options.expectedLastSubjectSequence {
            if expected == 0 {
                publishOptions.ExpectNoMessage = true
            } else {
                publishOptions.ExpectLastSubjectSeq = expected
            }
        }
        var ack: UnsafeMutablePointer<jsPubAck>?
        var code = jsErrCode(rawValue: 0)
        let status = withExtendedLifetime(strings) {
            js_PublishMsg(&ack, pointer, message, &publishOptions, &code)
        }
        try NATSLibrary.check(status, operation, jetStreamCode: code)
        defer { jsPubAck_Destroy(ack) }
        let a = ack!.pointee
        return JetStream.PublishAck(
            stream: a.Stream.map { String(cString: $0) } ?? "", sequence: a.Sequence, duplicate: a.Duplicate)
    }

    deinit { jsCtx_Destroy(pointer) }
}
