import BenCore
import BenTopology
import BenTestKit

/// Small topologies written as YAML, so a test reads like the fleet it sets up.
enum Fixtures {
    /// Five distinct 64-hex-digit keys.
    static let keys = (1...5).map { i in String(repeating: String(format2(i)), count: 32) }

    static func format2(_ i: Int) -> String { i < 10 ? "0\(i)" : "\(i)" }

    /// A valid five-node topology. Line numbers matter: the table tests edit single lines.
    static let base = """
        fleet: test
        ledger:
          address: 10.0.0.1:7400
          max_fan_out: 4
        defaults:
          uplink: 10Gbit
          max_fan_out: {total: 8, cross_region: 1}
        tuning:
          preferred_relays: [a1]
          never_relay: [b2]
          maintenance: []
        regions:
          - name: eu
            zones:
              - name: a
                racks:
                  - name: r1
                    nodes:
                      - {id: a1, roles: [spine], address: 10.0.1.1:7401, key: \(keys[0])}
                      - {id: a2, roles: [proxy], address: 10.0.1.2:7401, key: \(keys[1])}
                      - {id: a3, roles: [detector, proxy], address: 10.0.1.3:7401, key: \(keys[2])}
              - name: b
                racks:
                  - name: r1
                    nodes:
                      - id: b1
                        roles: [data_migrator]
                        address: 10.0.2.1:7401
                        key: \(keys[3])
                      - {id: b2, roles: [detector], address: 10.0.2.2:7401, key: \(keys[4])}

        """

    /// `base` with line `number` (1-based) replaced by `text` (nil deletes it).
    static func base(replacing number: Int, with text: String?) -> String {
        var lines = base.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let text { lines[number - 1] = text } else { lines.remove(at: number - 1) }
        return lines.joined(separator: "\n")
    }

    /// `base` with `text` inserted before line `number`.
    static func base(inserting text: String, before number: Int) -> String {
        var lines = base.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.insert(text, at: number - 1)
        return lines.joined(separator: "\n")
    }

    static let key = Key(digest: [UInt8](repeating: 9, count: 32))

    static func deployment(
        version: UInt64 = 1, seed: UInt64? = nil, down: [NodeID] = [], stripes: Int? = nil, selector: Selector = .all
    ) -> Deployment {
        Deployment(version: Version(version), topologyKey: key, selector: selector, seed: seed, down: down, stripes: stripes)
    }

    /// The repository's topology/ folder.
    static func repositoryFile(_ path: String) -> String { ProcessRunner.repositoryRoot() + "/" + path }
}
