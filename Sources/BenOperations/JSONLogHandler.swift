import BenCore
import Glibc
public import Logging
import Synchronization

/// `--log-format json`: one JSON object per line on standard error, for log shippers (as istio's `--log_as_json`).
///
/// Every line has `ts` (RFC 3339, UTC, milliseconds), `level`, `msg` and `logger`, then Ben's fixed keys under
/// short names (`LogKeys.renamed`: `ben.fleet` → `fleet`, `ben.version` → `version`, `ben.node` → `node`,
/// `peer.node` → `peer`, `stripe`, `reason`), then every other metadata key as it was logged. docs/operations.md
/// lists them.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    let label: String
    let sink: LineSink

    public init(label: String, sink: LineSink = .standardError) {
        self.label = label
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        sink.write(Self.line(at: WallClock.rfc3339Now(), level: event.level, message: "\(event.message)", label: label, metadata: all))
    }

    /// One line, with its newline.
    static func line(at time: String, level: Logger.Level, message: String, label: String, metadata: Logger.Metadata) -> String {
        var out = "{\"ts\":\(JSONText.quoted(time)),\"level\":\(JSONText.quoted(level.rawValue)),\"msg\":\(JSONText.quoted(message))"
        out += ",\"logger\":\(JSONText.quoted(label))"
        var rest = metadata
        for (key, short) in LogKeys.renamed {
            guard let value = rest.removeValue(forKey: key) else { continue }
            out += ",\(JSONText.quoted(short)):\(JSONText.value(value))"
        }
        for key in rest.keys.sorted() {
            // A key that would collide with a fixed one keeps its dotted name with a prefix.
            let name = LogKeys.fixed.contains(key) ? "meta." + key : key
            out += ",\(JSONText.quoted(name)):\(JSONText.value(rest[key]!))"
        }
        return out + "}\n"
    }
}

/// The log's fixed keys.
public enum LogKeys {
    /// swift-log metadata keys (CONVENTIONS: fixed and dotted) and the short names the JSON lines give them, in the
    /// order they appear.
    public static let renamed: [(String, String)] = [
        ("ben.fleet", "fleet"), ("ben.version", "version"), ("ben.node", "node"), ("peer.node", "peer"), ("stripe", "stripe"),
        ("reason", "reason"),
    ]

    /// Keys every line has.
    public static let always = ["ts", "level", "msg", "logger"]

    static let fixed = Set(always + renamed.map(\.1))
}

/// Where log lines go: a file descriptor, written one whole line at a time under a lock so lines from several
/// threads never interleave.
public final class LineSink: Sendable {
    let fd: Int32
    let lock = Mutex<Void>(())

    public init(fd: Int32) {
        self.fd = fd
    }

    public static let standardError = LineSink(fd: 2)

    func write(_ line: String) {
        var bytes = Array(line.utf8)
        lock.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

/// JSON text for log values (the log does not go through BenCore's canonical JSON: its key order is by meaning,
/// not sorted, and values may be nested swift-log metadata).
enum JSONText {
    static func quoted(_ s: String) -> String {
        StringEscape.quoted(s) { scalar in
            guard scalar.value < 0x20 else { return nil }
            let hex = String(scalar.value, radix: 16)
            return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
    }

    static func value(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): quoted(s)
        case .stringConvertible(let c): quoted(c.description)
        case .array(let a): "[" + a.map(Self.value).joined(separator: ",") + "]"
        case .dictionary(let d): "{" + d.keys.sorted().map { "\(quoted($0)):\(Self.value(d[$0]!))" }.joined(separator: ",") + "}"
        }
    }
}

/// The wall clock, for log timestamps.
enum WallClock {
    static func rfc3339Now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = time_t(spec.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let millis = Int(spec.tv_nsec / 1_000_000)
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}
