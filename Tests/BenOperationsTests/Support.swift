import BenCore
import BenTestKit
import Foundation
import Testing

/// A JSON document of up to 64 MiB (the status page's document for 10 000 nodes is a few megabytes).
func parseJSON(_ text: String) throws -> JSONValue {
    try JSONParser.parse(Array(text.utf8), limits: .init(maxBytes: 64 << 20))
}

/// A plain HTTP/1.1 client over a socket, so the tests need no curl and no URLSession: one request, the whole
/// answer (bodies here are small or `Content-Length`/chunked and end when the server closes).
enum HTTP {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    static func get(_ port: Int, _ path: String, timeout: Double = 10) throws -> Response {
        let fd = try connect(port, timeout: timeout)
        defer { close(fd) }
        try send(fd, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n")
        var raw: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            raw += buffer[0..<n]
        }
        return try parse(raw)
    }

    /// Opens a server-sent-events stream and returns the socket, after the response head.
    static func openStream(_ port: Int, _ path: String) throws -> Int32 {
        let fd = try connect(port, timeout: 30)
        try send(fd, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\n\r\n")
        return fd
    }

    /// The data of the next `event: status` on a stream (each event is written in one piece, so it sits in one
    /// chunk of the chunked body).
    static func nextEvent(_ fd: Int32, pending: inout [UInt8]) throws -> String {
        let marker = Array("event: status\ndata: ".utf8)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            if let start = pending.firstRange(of: marker), let end = pending[start.upperBound...].firstRange(of: [0x0A, 0x0A]) {
                let data = String(decoding: pending[start.upperBound..<end.lowerBound], as: UTF8.self)
                pending.removeSubrange(..<end.upperBound)
                return data
            }
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { throw Failure("the event stream ended") }
            pending += buffer[0..<n]
        }
    }

    static func connect(_ port: Int, timeout: Double) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: \(errno)") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else {
            close(fd)
            throw Failure("cannot connect to 127.0.0.1:\(port): errno \(errno)")
        }
        return fd
    }

    static func send(_ fd: Int32, _ text: String) throws {
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else { throw Failure("write failed") }
    }

    static func parse(_ raw: [UInt8]) throws -> Response {
        guard let split = raw.firstRange(of: Array("\r\n\r\n".utf8)) else { throw Failure("no HTTP head in \(raw.count) bytes") }
        let head = String(decoding: raw[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = head.first, let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else {
            throw Failure("bad status line")
        }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(raw[split.upperBound...])
        if headers["transfer-encoding"] == "chunked" {
            var out: [UInt8] = []
            var i = 0
            while let lineEnd = body[i...].firstRange(of: [0x0D, 0x0A]) {
                let size = Int(String(decoding: body[i..<lineEnd.lowerBound], as: UTF8.self), radix: 16) ?? 0
                if size == 0 { break }
                out += body[lineEnd.upperBound..<min(body.count, lineEnd.upperBound + size)]
                i = lineEnd.upperBound + size + 2
                if i >= body.count { break }
            }
            body = out
        }
        return Response(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The Prometheus text exposition format (version 0.0.4), parsed strictly enough to catch a malformed line: every
/// sample line must be `name{label="value",…} number`, every name must belong to a family with a `# TYPE` line
/// before it, and every histogram must have its `+Inf` bucket, `_sum` and `_count`.
struct Exposition {
    struct Sample: Hashable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var types: [String: String] = [:]
    var help: [String: String] = [:]
    var samples: [Sample] = []

    init(_ text: String) throws {
        let name = /[a-zA-Z_:][a-zA-Z0-9_:]*/
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                guard parts.count == 2, ["counter", "gauge", "histogram", "summary", "untyped"].contains(String(parts[1])),
                    (try? name.wholeMatch(in: String(parts[0]))) != nil
                else { throw Failure("line \(number + 1): bad TYPE line: \(line)") }
                guard types.updateValue(String(parts[1]), forKey: String(parts[0])) == nil else {
                    throw Failure("line \(number + 1): second TYPE for \(parts[0])")
                }
                continue
            }
            if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst(7)
                let metric = rest.prefix { $0 != " " }
                help[String(metric)] = String(rest.dropFirst(metric.count + 1))
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let match = try /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)( [0-9]+)?$/.wholeMatch(in: String(line)) else {
                throw Failure("line \(number + 1): not a sample: \(line)")
            }
            let metric = String(match.1)
            var labels: [String: String] = [:]
            if let body = match.3, !body.isEmpty {
                for pair in try Self.labelPairs(String(body)) { labels[pair.0] = pair.1 }
            }
            guard let value = Self.number(String(match.4)) else { throw Failure("line \(number + 1): bad value \(match.4)") }
            let family = Self.family(of: metric, types: types)
            guard types[family] != nil else { throw Failure("line \(number + 1): \(metric) has no TYPE line before it") }
            samples.append(Sample(name: metric, labels: labels, value: value))
        }
        for (family, type) in types where type == "histogram" {
            guard samples.contains(where: { $0.name == family + "_bucket" && $0.labels["le"] == "+Inf" }),
                samples.contains(where: { $0.name == family + "_sum" }), samples.contains(where: { $0.name == family + "_count" })
            else { throw Failure("histogram \(family) lacks its +Inf bucket, _sum or _count") }
        }
    }

    static func labelPairs(_ text: String) throws -> [(String, String)] {
        var pairs: [(String, String)] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            guard let match = try /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/.prefixMatch(in: rest) else {
                throw Failure("bad labels: {\(text)}")
            }
            pairs.append((String(match.1), String(match.2)))
            rest = rest[match.range.upperBound...]
        }
        return pairs
    }

    static func number(_ text: String) -> Double? {
        switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: Double(text)
        }
    }

    static func family(of metric: String, types: [String: String]) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where metric.hasSuffix(suffix) {
            let base = String(metric.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return metric
    }

    /// The sum of a metric's samples whose labels include `labels`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
            .reduce(0) { $0 + $1.value }
    }
}

/// Polls `condition` until it holds, without blocking a pool thread for long.
func eventually(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(200))  // the poll's pacing; the event is `condition`
    }
    throw Failure("timed out waiting until \(what)")
}
