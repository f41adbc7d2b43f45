import BenCore
import BenFiles
public import BenProtocol
import Glibc

/// The agent's durable record (`agent.state`): the running version, the highest accepted one and the highest
/// ledger lease epoch accepted (`highest_epoch`; absent in files written before epochs, read as 0), written whole
/// or not at all (temp file, fsync, rename, directory fsync) before the agent acts on it.
public struct AgentStateFile: Sendable {
    public let path: String

    /// The record with a signed answer is well under this.
    static let maxBytes = 64 << 10

    public init(directory: String) {
        path = directory + "/agent.state"
    }

    public func load() throws(AgentError) -> AgentRecord {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return AgentRecord(active: nil, highestAccepted: .none) }
            throw .io(path: path, detail: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: Self.maxBytes)
        var n = 0
        while n < Self.maxBytes {
            let got = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + n, Self.maxBytes - n) }
            if got <= 0 { break }
            n += got
        }
        guard n > 0 else { throw .corruptState(path: path, detail: "empty") }
        do {
            let json = try JSONParser.parse(bytes.prefix(n))
            let r = try FieldReader(
                json, document: "agent state", allowed: ["active", "manifest", "highest_accepted", "highest_epoch", "last_answer", "answered_issue"])
            let highest = Version(UInt64(try r.int("highest_accepted")))
            let epoch = r.has("highest_epoch") ? UInt64(try r.int("highest_epoch")) : 0
            var active: ActiveVersion?
            if r.has("active") {
                active = ActiveVersion(version: Version(UInt64(try r.int("active", in: 1...JSONValue.maxSafeInteger))), manifest: try r.key("manifest"))
            }
            var answer: SignedAnswer?
            if r.has("last_answer"), let value = json["last_answer"] {
                let envelope = try SignedEnvelope(json: value, document: "agent state", path: "last_answer")
                let ack = try envelope.document(as: Ack.self)
                guard let issued = Timestamp(rfc3339: try r.string("answered_issue")) else {
                    throw AgentError.corruptState(path: path, detail: "answered_issue is not an RFC 3339 time")
                }
                answer = SignedAnswer(version: ack.version, manifest: ack.manifest, status: ack.status, envelope: envelope, answeredIssue: issued)
            }
            return AgentRecord(active: active, highestAccepted: highest, lastAnswer: answer, highestEpoch: epoch)
        } catch {
            throw .corruptState(path: path, detail: "\(error)")
        }
    }

    public func save(_ record: AgentRecord) throws(AgentError) {
        var object: [String: JSONValue] = [
            "highest_accepted": .int(Int64(record.highestAccepted.rawValue)), "highest_epoch": .int(Int64(record.highestEpoch)),
        ]
        if let active = record.active {
            object["active"] = .int(Int64(active.version.rawValue))
            object["manifest"] = .string(active.manifest.hex)
        }
        if let answer = record.lastAnswer {
            object["last_answer"] = answer.envelope.json
            object["answered_issue"] = .string(answer.answeredIssue.rfc3339)
        }
        let bytes = Array((try! CanonicalJSON.string(.object(object)) + "\n").utf8)
        do {
            try AtomicFile.write(bytes, to: path)
        } catch {
            throw .io(path: error.path, detail: error.reason)
        }
    }
}

/// What can go wrong in an agent, in terms an operator can act on.
public enum AgentError: Error, Sendable, Hashable, CustomStringConvertible {
    case io(path: String, detail: String)
    case corruptState(path: String, detail: String)
    case configuration(String)

    public var description: String {
        switch self {
        case .io(let path, let detail): "\(path): \(detail)"
        case .corruptState(let path, let detail):
            "\(path): the agent's state file is unreadable (\(detail)); move it aside to start from no version"
        case .configuration(let detail): detail
        }
    }
}
