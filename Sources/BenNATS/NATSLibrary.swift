import CNats
import Glibc

/// The one door to libnats's process-wide state: `nats_Open` runs once, and every `natsStatus` becomes a
/// `NATSError` here.
enum NATSLibrary {
    /// `nats_Open` must not run concurrently with itself; a Swift global is initialised exactly once, under a lock.
    private static let opened: natsStatus = nats_Open(-1)

    /// Opens the library (once) and throws if it could not be initialised.
    static func open() throws(NATSError) {
        let status = opened
        if status != NATS_OK {
            throw NATSError(
                code: .other, operation: "open libnats \(String(cString: nats_GetVersion()))",
                statusText: text(of: status), status: Int(status.rawValue))
        }
    }

    static func text(of status: natsStatus) -> String { String(cString: natsStatus_GetText(status)) }

    /// Turns a failed status into an error. Call it on the same thread, right after the C call that returned
    /// `status`: libnats keeps the detail (`nats_GetLastError`) in thread-local storage.
    static func error(
        _ status: natsStatus, _ operation: String, jetStreamCode: jsErrCode = jsErrCode(rawValue: 0)
    ) -> NATSError {
        var lastStatus = NATS_OK
        var detail = ""
        if let text = nats_GetLastError(&lastStatus), lastStatus == status {
            detail = withoutSourceLocation(String(cString: text))
        }
        let js = Int(jetStreamCode.rawValue)
        return NATSError(
            code: code(for: status, jetStreamCode: js), operation: operation, statusText: text(of: status),
            status: Int(status.rawValue), detail: detail, jetStreamCode: js == 0 ? nil : js)
    }

    /// libnats prefixes its error text with where in its source it was set ("(jsm.c:1520): stream not found");
    /// the operator needs the words, not the line.
    static func withoutSourceLocation(_ text: String) -> String {
        guard text.hasPrefix("("), let end = text.range(of: "): "),
            text.distance(from: text.startIndex, to: end.lowerBound) < 40
        else { return text }
        return String(text[end.upperBound...])
    }

    /// Throws unless `status` is `NATS_OK`. `operation` is only built when there is an error.
    static func check(
        _ status: natsStatus, _ operation: @autoclosure () -> String,
        jetStreamCode: jsErrCode = jsErrCode(rawValue: 0)
    ) throws(NATSError) {
        if status != NATS_OK { throw error(status, operation(), jetStreamCode: jetStreamCode) }
    }

    static func code(for status: natsStatus, jetStreamCode: Int) -> NATSError.Code {
        // A JetStream API error comes as NATS_ERR with the server's code; libnats also attaches a code to some
        // transport failures (no responders comes with 10076), which keep their transport meaning.
        switch status {
        case NATS_TIMEOUT: return .timeout
        case NATS_NO_RESPONDERS: return .noResponders
        case NATS_CONNECTION_CLOSED: return .connectionClosed
        case NATS_CONNECTION_DISCONNECTED, NATS_STALE_CONNECTION, NATS_NOT_YET_CONNECTED: return .disconnected
        case NATS_NO_SERVER: return .noServer
        case NATS_IO_ERROR: return .io
        case NATS_CONNECTION_AUTH_FAILED: return .authentication
        case NATS_NOT_PERMITTED: return .notPermitted
        case NATS_INVALID_ARG, NATS_INVALID_SUBJECT, NATS_INVALID_QUEUE_NAME, NATS_INVALID_TIMEOUT,
            NATS_ADDRESS_MISSING:
            return .invalidArgument
        case NATS_MAX_PAYLOAD: return .maxPayload
        case NATS_SLOW_CONSUMER: return .slowConsumer
        default: return jetStreamCode != 0 ? .jetStream : .other
        }
    }

    /// An error that did not come from a libnats call (bad input caught before calling it), worded like one.
    static func invalidArgument(_ operation: String, _ detail: String) -> NATSError {
        NATSError(
            code: .invalidArgument, operation: operation, statusText: text(of: NATS_INVALID_ARG),
            status: Int(NATS_INVALID_ARG.rawValue), detail: detail)
    }
}

/// Milliseconds for libnats's `int64_t` timeouts, at least 1 (libnats refuses 0 and negative timeouts).
func milliseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
    return max(1, ms)
}

/// The text in a C character buffer, up to its first NUL.
func string(fromNullTerminated buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Nanoseconds for JetStream's durations (`MaxAge`, `Duplicates`).
func nanoseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
}

/// "250 ms", "2 s": how a timeout reads in an error message.
func describe(_ duration: Duration) -> String {
    let ms = milliseconds(duration)
    return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
}

/// C strings that live exactly as long as one C call needs them (libnats copies what it keeps).
final class CStrings {
    private var owned: [UnsafeMutablePointer<CChar>] = []

    func dup(_ string: String) -> UnsafeMutablePointer<CChar> {
        let copy = strdup(string)!
        owned.append(copy)
        return copy
    }

    func dup(_ string: String?) -> UnsafePointer<CChar>? { string.map { UnsafePointer(dup($0)) } }

    /// A C array of C strings, freed with the rest.
    func array(_ strings: [String]) -> UnsafeMutablePointer<UnsafePointer<CChar>?> {
        let array = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: max(1, strings.count))
        for (i, s) in strings.enumerated() { array[i] = UnsafePointer(dup(s)) }
        arrays.append(array)
        return array
    }

    private var arrays: [UnsafeMutablePointer<UnsafePointer<CChar>?>] = []

    deinit {
        for p in owned { free(p) }
        for a in arrays { a.deallocate() }
    }
}

/// Calls `body` with a pointer to `bytes` as libnats's `const char *data` (nil for no bytes) and its length.
/// Throws `.maxPayload` for more bytes than libnats's `int` length can say (no server accepts that many).
func withPayload<R>(
    _ bytes: [UInt8], operation: @autoclosure () -> String, _ body: (UnsafePointer<CChar>?, Int32) -> R
) throws(NATSError) -> R {
    guard let count = Int32(exactly: bytes.count) else {
        throw NATSError(
            code: .maxPayload, operation: operation(), statusText: NATSLibrary.text(of: NATS_MAX_PAYLOAD),
            status: Int(NATS_MAX_PAYLOAD.rawValue), detail: "\(bytes.count) bytes")
    }
    return bytes.withUnsafeBufferPointer { buffer in
        body(buffer.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, count)
    }
}
