/// Why a NATS operation failed, in NATS's own words and in Ben's.
///
/// Every failing call in BenNATS throws this. It carries what BenNATS was doing (`operation`, e.g. "publish to
/// ben.demo.announce"), the text libnats gives for the status (`statusText`, from `natsStatus_GetText`, e.g.
/// "Timeout"), libnats's detail for this particular failure when it has one (`detail`, from
/// `nats_GetLastError`), and for JetStream requests the server's error code (`jetStreamCode`, e.g. 10059
/// "stream not found"). `description` is the line a CLI prints.
public struct NATSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is. Compare against the static members; new codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Nothing answered in time (a request, a flush, a JetStream acknowledgement).
        public static let timeout = Code("timeout")
        /// The server had no subscriber for a request's subject (or JetStream was not ready to take it).
        public static let noResponders = Code("no_responders")
        /// The connection has been closed (by `close`, `drain`, or after reconnect attempts ran out).
        public static let connectionClosed = Code("connection_closed")
        /// The connection to the server was lost while the operation was in flight; it may reconnect.
        public static let disconnected = Code("disconnected")
        /// No server in the list could be reached.
        public static let noServer = Code("no_server")
        /// A network read or write failed.
        public static let io = Code("io")
        /// The server refused the credentials.
        public static let authentication = Code("authentication")
        /// The server's permissions forbid the subject.
        public static let notPermitted = Code("not_permitted")
        /// A subject, queue name or other argument is invalid.
        public static let invalidArgument = Code("invalid_argument")
        /// The payload is larger than the server accepts.
        public static let maxPayload = Code("max_payload")
        /// A subscriber did not keep up and messages were dropped.
        public static let slowConsumer = Code("slow_consumer")
        /// The task was cancelled while BenNATS was waiting to retry.
        public static let cancelled = Code("cancelled")
        /// A compare-and-set write lost: the key-value entry's latest revision is not the one the writer expected
        /// (another writer got there first, or the value expired).
        public static let wrongRevision = Code("wrong_revision")
        /// The JetStream API refused the request; `jetStreamCode` says why.
        public static let jetStream = Code("jetstream")
        /// Anything else libnats reports; `statusText` names it.
        public static let other = Code("other")
    }

    public var code: Code
    /// What BenNATS was doing, e.g. "publish to ben.demo.announce".
    public var operation: String
    /// NATS's own text for the status (`natsStatus_GetText`), e.g. "Timeout".
    public var statusText: String
    /// The numeric `natsStatus` (0 when the failure did not come from libnats).
    public var status = 0
    /// libnats's detail for this failure (`nats_GetLastError`), or the server's JetStream error text; empty when
    /// it said nothing beyond `statusText`.
    public var detail = ""
    /// The JetStream API error code (`jsErrCode`, e.g. 10059 for "stream not found"), when the server gave one.
    public var jetStreamCode: Int?

    public var description: String {
        var line = "\(operation): \(statusText)"
        if !detail.isEmpty && detail != statusText { line += " (\(detail))" }
        if let jetStreamCode { line += " [JetStream error \(jetStreamCode)]" }
        if let hint { line += "; \(hint)" }
        return line
    }

    /// Whether retrying the same operation a little later may succeed: the server was briefly away or busy.
    public var isTransient: Bool {
        switch code {
        case .timeout, .noResponders, .disconnected, .noServer, .io: true
        // JetStream "temporarily unavailable" (10008) and "cluster can not handle request" (10009).
        case .jetStream: jetStreamCode == 10008 || jetStreamCode == 10009
        default: false
        }
    }

    /// What the operator should make of it, for the codes where NATS's own words are terse.
    private var hint: String? {
        switch code {
        case .timeout: "no answer arrived in time"
        case .noResponders where detail.isEmpty: "nothing is subscribed to that subject (is the service running?)"
        case .noServer: "no NATS server answered at that address (is nats-server running?)"
        case .connectionClosed: "the connection is closed; connect again"
        case .disconnected: "the connection to the server was lost; it is reconnecting"
        case .authentication:
            "the server's authorization refused this connection: it gave no credentials, or ones the server does not list "
                + "(give it the file `benctl nats config` wrote for this identity, with the server running the configuration it wrote)"
        case .notPermitted: "the server's authorization does not let this identity use that subject"
        default: nil
        }
    }
}
