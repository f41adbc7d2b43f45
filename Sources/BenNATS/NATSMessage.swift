import CNats

/// A message received from a subscription or as the answer to a request. Its bytes are copied out of libnats's
/// message as it arrives, so the value is independent of any C memory.
public struct NATSMessage: Sendable {
    public var subject: String
    /// Where an answer should go; set on requests.
    public var reply: String?
    public var payload: [UInt8]
    public var headers: NATSHeaders

    /// The connection the message arrived on, so that `respond` can answer on it. Holding a message keeps that
    /// connection alive.
    let connection: ConnectionHandle?

    public init(subject: String, reply: String? = nil, payload: [UInt8], headers: NATSHeaders = NATSHeaders()) {
        self.subject = subject
        self.reply = reply
        self.payload = payload
        self.headers = headers
        self.connection = nil
    }

    /// Copies a libnats message (the caller still owns and destroys it).
    init(copying message: OpaquePointer, connection: ConnectionHandle?) {
        subject = String(cString: natsMsg_GetSubject(message))
        reply = natsMsg_GetReply(message).map { String(cString: $0) }
        payload = copyPayload(of: message)
        headers = NATSHeaders(copying: message)
        self.connection = connection
    }

    /// The payload as UTF-8 text (invalid bytes are replaced).
    public var text: String { String(decoding: payload, as: UTF8.self) }

    /// Answers a request: publishes `payload` to this message's reply subject, on the connection it came from.
    ///
    /// Throws `NATSError` with code `.invalidArgument` when the message has no reply subject (it was a plain
    /// publish, not a request), and whatever `publish` throws otherwise.
    public func respond(_ payload: [UInt8], headers: NATSHeaders? = nil) async throws(NATSError) {
        let operation = "respond to a request on \(subject)"
        guard let reply, !reply.isEmpty else {
            throw NATSLibrary.invalidArgument(operation, "the message has no reply subject; it was not a request")
        }
        guard let connection else {
            throw NATSLibrary.invalidArgument(operation, "the message was not received on a connection")
        }
        try connection.publish(payload, subject: reply, reply: nil, headers: headers, operation: operation)
    }
}

func copyPayload(of message: OpaquePointer) -> [UInt8] {
    let count = Int(natsMsg_GetDataLength(message))
    guard count > 0, let data = natsMsg_GetData(message) else { return [] }
    return [UInt8](UnsafeRawBufferPointer(start: data, count: count))
}
