import ArgumentParser
import BenCore
import BenCrypto
import BenNATS
import Glibc
import Logging

/// Options of every verb that talks to the ledger: where NATS is, which fleet, and (for verbs that change
/// state) which operator key signs. Each comes from its flag, else its environment variable, else the context
/// (`benctl context`), so scripts and people set it once.
struct LedgerOptions: ParsableArguments {
    @Option(name: .long, help: "NATS server URL(s), comma-separated (env BEN_NATS; default nats://127.0.0.1:4222).")
    var nats: String?

    @Option(name: .long, help: "The fleet (env BEN_FLEET).")
    var fleet: String?

    @Option(name: .long, help: "Operator key file that signs requests that change state (env BEN_OPERATOR_KEY).")
    var key: String?

    @Option(name: .long, help: "NATS credentials file: the operator's, as `benctl nats config` wrote it, or a .creds file (env BEN_NATS_CREDS).")
    var creds: String?

    @Option(name: .long, help: "Use this saved context instead of the one in use (env BEN_CONTEXT; see `benctl context`).")
    var context: String?

    @Option(name: .long, help: "Seconds to wait for the ledger to answer a request.")
    var requestTimeout: Int = 30

    /// Connects, runs `body`, and closes the connection whatever happens.
    func withClient<T>(_ body: (LedgerClient) async throws -> T) async throws -> T {
        let client = try await connect()
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    func connect() async throws -> LedgerClient {
        let env = ProcessEnvironment.self
        let saved = try ContextStore.standard.active(named: context)
        let from = saved.map { " (context \($0.name))" } ?? ""
        guard let fleetText = fleet ?? env.value("BEN_FLEET") ?? saved?.fleet else {
            throw CommandFailure("name the fleet with --fleet, BEN_FLEET or a context (`benctl context save NAME --fleet F …`)")
        }
        guard let fleet = FleetName(fleetText) else { throw CommandFailure("fleet '\(fleetText)': \(FleetName.rule)") }
        let serverText = nats ?? env.value("BEN_NATS") ?? (saved?.nats.isEmpty == false ? saved!.nats.joined(separator: ",") : nil)
        let servers = (serverText ?? "nats://127.0.0.1:4222").split(separator: ",").map(String.init)
        // Read now, refused only when a verb needs to sign: a context's key that is not on this host does not stop
        // `status` or `log`.
        var signingKey: Result<SigningKey, CommandFailure>?
        if let path = key ?? env.value("BEN_OPERATOR_KEY") ?? saved?.operatorKey {
            signingKey = Result { try KeyFile.read(path) }.mapError { CommandFailure("operator key\(key == nil ? from : ""): \($0)") }
        }
        var settings = NATSSettings()
        settings.name = "benctl"
        settings.credentialsFile = creds ?? env.value("BEN_NATS_CREDS") ?? saved?.credentials
        settings.reconnect.maxAttempts = 2
        var logger = Logger(label: "benctl")
        logger.logLevel = .critical
        let connection: NATSConnection
        do {
            connection = try await NATSConnection.connect(to: servers, settings: settings, logger: logger)
        } catch {
            // BenNATS's own sentence for "no server" already asks whether nats-server is running; say it once.
            var hint = error.code == .noServer ? "" : "; is nats-server running?"
            if error.code == .authentication {
                hint = settings.credentialsFile == nil
                    ? "; it runs Ben's authorization: give the operator's NATS credentials with --creds, BEN_NATS_CREDS or a context"
                    : "; credentials: \(settings.credentialsFile!)"
            }
            throw CommandFailure("cannot reach NATS at \(servers.joined(separator: ", ")): \(error.description)\(hint) (--nats, BEN_NATS or a context)")
        }
        return LedgerClient(connection: connection, fleet: fleet, key: signingKey, timeout: .seconds(requestTimeout))
    }
}

enum ProcessEnvironment {
    static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        let value = String(cString: raw)
        return value.isEmpty ? nil : value
    }

    static var workingDirectory: String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// benctl's side of the operator API: JSON requests over NATS, signed when they change state.
struct LedgerClient {
    let connection: NATSConnection
    let fleet: FleetName
    let key: Result<SigningKey, CommandFailure>?
    let timeout: Duration

    /// Sends a request and returns the answer's JSON; an answer marked as an error becomes a `CommandFailure`
    /// with the ledger's own sentence.
    func call(_ verb: String, args: JSONValue = [:], body: [UInt8]? = nil) async throws -> JSONValue {
        var headers = NATSHeaders()
        var payload: [UInt8]
        if OperatorAPI.signedVerbs.contains(verb) {
            guard let key = try key?.get() else {
                throw CommandFailure("\(verb) changes state and must be signed: pass --key FILE or set BEN_OPERATOR_KEY")
            }
            payload = body ?? []
            let request = OperatorRequest(
                fleet: fleet, verb: verb, at: Clock.now(), nonce: Hex.encode(SecureRandom.bytes(16)),
                body: BLAKE2b.key(of: payload), args: args)
            headers.set(key.envelope(request, context: .operatorRequest).canonicalString, for: OperatorAPI.requestHeader)
        } else {
            payload = try CanonicalJSON.encode(args)
        }
        let reply: NATSMessage
        do {
            reply = try await connection.request(payload, subject: NATSSubjects.api(fleet, verb: verb), headers: headers, timeout: timeout)
        } catch {
            if error.code == .noResponders {
                throw CommandFailure("no ledger serves fleet \(fleet) on this NATS (no responders); is ben-ledger running?")
            }
            throw CommandFailure("\(verb): \(error.description)")
        }
        let answer: JSONValue
        do {
            answer = try JSONParser.parse(reply.payload, limits: .init(maxBytes: 64 << 20))
        } catch {
            throw CommandFailure("\(verb): the ledger's answer is not JSON: \(error)")
        }
        if reply.headers[OperatorAPI.statusHeader] == "error" {
            throw CommandFailure(answer["error"]?.stringValue ?? "\(verb) failed")
        }
        return answer
    }

    /// Asks one node's agent directly (its query endpoint), not the ledger.
    func query(node: NodeID, _ request: JSONValue) async throws -> JSONValue {
        let reply: NATSMessage
        let payload = try CanonicalJSON.encode(request)
        do {
            reply = try await connection.request(payload, subject: NATSSubjects.nodeQuery(fleet, node: node), timeout: timeout)
        } catch {
            if error.code == .noResponders { throw CommandFailure("\(node) does not answer on NATS; is its agent running?") }
            throw CommandFailure("\(node): \(error.description)")
        }
        do {
            return try JSONParser.parse(reply.payload, limits: .init(maxBytes: 16 << 20))
        } catch {
            throw CommandFailure("\(node): the answer is not JSON: \(error)")
        }
    }

    func close() async { await connection.close() }
}

/// The CLI's wall clock (benctl is a shell; only pure cores stay clock-free).
enum Clock {
    static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(millisecondsSinceEpoch: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }
}

/// A one-line progress bar on stderr, redrawn in place, only when stderr is a terminal.
struct ProgressBar {
    let label: String
    let total: Int64
    let isTerminal = Terminal.standardErrorTakesEscapes
    var last = ""

    init(_ label: String, total: Int64) {
        self.label = label
        self.total = max(total, 1)
    }

    mutating func update(_ done: Int64, detail: String = "") {
        guard isTerminal else { return }
        let width = 30
        let filled = Int(min(done, total) * Int64(width) / total)
        let line = "\r\(label) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(detail)"
        guard line != last else { return }
        last = line
        FileHandleOutput.standardError(line + "\u{1B}[K")
    }

    func finish() {
        guard isTerminal, !last.isEmpty else { return }
        FileHandleOutput.standardError("\n")
    }
}
