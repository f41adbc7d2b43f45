/// A network address as written in topologies and announcements: `host:port`, where host is an IPv4 address,
/// a DNS name, or an IPv6 address in brackets (`[::1]:7401`).
public struct HostPort: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The host without brackets: an IPv4 address, a DNS name, or an IPv6 address (which alone contains `:`).
    public let host: String
    /// 1 to 65535.
    public let port: Int

    /// The address of a DNS name or IPv4 address and a port; nil when the host is not one or the port is outside 1
    /// to 65535.
    public init?(host: String, port: Int) {
        guard (1...65535).contains(port), Self.isHost(host) else { return nil }
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[ipv6]:port`; nil for anything else, including a port with leading zeros or a sign,
    /// so that one address has one spelling.
    public init?(_ text: some StringProtocol) {
        let s = String(text)
        let hostPart: Substring
        let portPart: Substring
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]"), s.index(after: close) < s.endIndex,
                s[s.index(after: close)] == ":"
            else { return nil }
            hostPart = s[s.index(after: s.startIndex)..<close]
            portPart = s[s.index(close, offsetBy: 2)...]
            guard hostPart.contains(":"), hostPart.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                return nil
            }
            guard let port = Int(portPart), String(port) == portPart else { return nil }
            self.init(unchecked: String(hostPart), port: port)
            guard (1...65535).contains(port) else { return nil }
            return
        }
        guard let colon = s.lastIndex(of: ":") else { return nil }
        hostPart = s[..<colon]
        portPart = s[s.index(after: colon)...]
        guard let port = Int(portPart), String(port) == portPart else { return nil }
        self.init(host: String(hostPart), port: port)
    }

    private init(unchecked host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// A DNS name or IPv4 address: labels of letters, digits and hyphens separated by dots.
    static func isHost(_ host: String) -> Bool {
        guard !host.isEmpty, host.utf8.count <= 253 else { return false }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    /// The address as `init?(_:)` reads it back (`10.0.0.1:7401`, `[::1]:7401`).
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Orders by host text, then port, so address lists sort the same everywhere.
    public static func < (a: Self, b: Self) -> Bool { (a.host, a.port) < (b.host, b.port) }
}
