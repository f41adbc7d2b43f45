public import BenCore

/// The topology's canonical bytes (`canonicalBytes`) are what the ledger hashes into the announcement's
/// `topology` key (DESIGN §5). BenTopology does no hashing: hash them with BenCrypto's `BLAKE2b.key(of:)`.
///
/// The form is the file's content normalised: units as exact integers (`10000000000bit/s`, `20000ns`,
/// chunk size in bytes), every default spelled out, overrides only where the file wrote them, tuning lists
/// sorted, and no comments or line numbers. Two files that say the same thing hash the same, and the JSON
/// reads back (it is YAML too) as an equal topology.
extension Topology: CanonicalJSONConvertible {
    public static let documentName = "topology"

    public var json: JSONValue {
        var ledgerObject: [String: JSONValue] = [
            "address": .string(ledger.address.description),
            "region": .string(regions.indices.contains(ledger.region) ? regions[ledger.region].name : ""),
            "zone": .string(zones.indices.contains(ledger.zone) ? zones[ledger.zone].name : ""),
        ]
        if let u = ledger.uplink { ledgerObject["uplink"] = .string(u.canonical) }
        if let f = ledger.maxFanOut { ledgerObject["max_fan_out"] = .int(Int64(f)) }

        var linkObject: [String: JSONValue] = [:]
        for tier in Tier.allCases { linkObject[tier.name] = Self.json(defaults.links[tier]) }
        var top: [String: JSONValue] = [
            "format": .string(Self.format),
            "fleet": .string(fleet.rawValue),
            "ledger": .object(ledgerObject),
            "defaults": .object([
                "chunk_size": .int(chunkSize),
                "uplink": .string(defaults.uplink.canonical),
                "max_fan_out": Self.json(FanOutOverride(total: defaults.maxFanOut.total, perTier: PerTier(
                    inRack: defaults.maxFanOut[.inRack], crossRack: defaults.maxFanOut[.crossRack],
                    crossZone: defaults.maxFanOut[.crossZone], crossRegion: defaults.maxFanOut[.crossRegion]))),
                "links": .object(linkObject),
            ]),
        ]
        if let stripes { top["stripes"] = .int(Int64(stripes)) }

        var preferred: [NodeID] = []
        var never: [NodeID] = []
        var maintenance: [NodeID] = []
        for n in nodes {
            if n.duty == .preferred { preferred.append(n.id) }
            if n.duty == .never { never.append(n.id) }
            if n.maintenance { maintenance.append(n.id) }
        }
        func ids(_ list: [NodeID]) -> JSONValue { .array(list.sorted().map { .string($0.rawValue) }) }
        top["tuning"] = .object(["preferred_relays": ids(preferred), "never_relay": ids(never), "maintenance": ids(maintenance)])

        top["regions"] = .array(regions.map { region in
            .object([
                "name": .string(region.name),
                "zones": .array(region.zones.map { z in
                    .object([
                        "name": .string(zones[z].name),
                        "racks": .array(zones[z].racks.map { r in rackJSON(r) }),
                    ])
                }),
            ])
        })
        return .object(top)
    }

    private func rackJSON(_ r: Int) -> JSONValue {
        let rack = racks[r]
        var object: [String: JSONValue] = [
            "name": .string(rack.name),
            "nodes": .array(rack.nodes.map { i in
                let n = nodes[i]
                var node: [String: JSONValue] = [
                    "id": .string(n.id.rawValue),
                    "roles": .array(n.roles.roles.map { .string($0.rawValue) }),
                    "address": .string(n.address.description),
                    "key": .string(n.key.hex),
                ]
                if let u = n.uplink { node["uplink"] = .string(u.canonical) }
                if let f = n.maxFanOut { node["max_fan_out"] = Self.json(f) }
                return .object(node)
            }),
        ]
        if let u = rack.uplink { object["uplink"] = .string(u.canonical) }
        if let f = rack.maxFanOut { object["max_fan_out"] = Self.json(f) }
        if let l = rack.inRackLink { object["links"] = .object(["in_rack": Self.json(l)]) }
        return .object(object)
    }

    static func json(_ link: Link) -> JSONValue {
        .object(["bandwidth": .string(link.bandwidth.canonical), "latency": .string(link.latency.canonical)])
    }

    static func json(_ f: FanOutOverride) -> JSONValue {
        var object: [String: JSONValue] = [:]
        if let t = f.total { object["total"] = .int(Int64(t)) }
        for tier in Tier.allCases { if let v = f.perTier[tier] { object[tier.name] = .int(Int64(v)) } }
        return .object(object)
    }
}
