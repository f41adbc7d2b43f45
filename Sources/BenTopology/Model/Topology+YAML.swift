extension Topology {
    /// The topology as a topology file: block style for the hierarchy, one flow mapping per node, units in
    /// their shortest exact spelling. Reading it back gives an equal topology.
    ///
    /// - Parameter header: comment lines to put at the top (without the `# `).
    public func yaml(header: [String] = []) -> String {
        var out = ""
        out.reserveCapacity(200 + nodes.count * 160)
        for line in header { out += line.isEmpty ? "#\n" : "# \(line)\n" }
        if !header.isEmpty { out += "\n" }
        out += "format: \(Self.format)\n"
        out += "fleet: \(fleet)\n"
        out += "ledger:\n  address: \(quoted(ledger.address.description))\n"
        if regions.indices.contains(ledger.region) { out += "  region: \(quoted(regions[ledger.region].name))\n" }
        if zones.indices.contains(ledger.zone) { out += "  zone: \(quoted(zones[ledger.zone].name))\n" }
        if let u = ledger.uplink { out += "  uplink: \(Self.spell(u))\n" }
        if let f = ledger.maxFanOut { out += "  max_fan_out: \(f)\n" }
        if let stripes { out += "stripes: \(stripes)\n" }
        out += "defaults:\n"
        out += "  chunk_size: \(Self.spellSize(chunkSize))\n"
        out += "  uplink: \(Self.spell(defaults.uplink))\n"
        let f = defaults.maxFanOut
        out += "  max_fan_out: {total: \(f.total), in_rack: \(f[.inRack]), cross_rack: \(f[.crossRack]), cross_zone: \(f[.crossZone]), cross_region: \(f[.crossRegion])}\n"
        out += "  links:\n"
        for tier in Tier.allCases { out += "    \(tier.name): \(Self.spell(defaults.links[tier]))\n" }

        var preferred: [String] = []
        var never: [String] = []
        var maintenance: [String] = []
        for n in nodes {
            if n.duty == .preferred { preferred.append(n.id.rawValue) }
            if n.duty == .never { never.append(n.id.rawValue) }
            if n.maintenance { maintenance.append(n.id.rawValue) }
        }
        out += "tuning:\n"
        out += "  preferred_relays: [\(preferred.joined(separator: ", "))]\n"
        out += "  never_relay: [\(never.joined(separator: ", "))]\n"
        out += "  maintenance: [\(maintenance.joined(separator: ", "))]\n"

        out += "regions:\n"
        for region in regions {
            out += "  - name: \(quoted(region.name))\n    zones:\n"
            for z in region.zones {
                out += "      - name: \(quoted(zones[z].name))\n        racks:\n"
                for r in zones[z].racks {
                    let rack = racks[r]
                    out += "          - name: \(quoted(rack.name))\n"
                    if let u = rack.uplink { out += "            uplink: \(Self.spell(u))\n" }
                    if let o = rack.maxFanOut { out += "            max_fan_out: \(Self.spell(o))\n" }
                    if let l = rack.inRackLink { out += "            links: {in_rack: \(Self.spell(l))}\n" }
                    out += "            nodes:\n"
                    for i in rack.nodes {
                        let n = nodes[i]
                        out += "              - {id: \(n.id), roles: [\(n.roles.roles.map(\.rawValue).joined(separator: ", "))], address: \(quoted(n.address.description)), key: \(n.key.hex)"
                        if let u = n.uplink { out += ", uplink: \(Self.spell(u))" }
                        if let o = n.maxFanOut { out += ", max_fan_out: \(Self.spell(o))" }
                        out += "}\n"
                    }
                }
            }
        }
        return out
    }

    /// Quotes text YAML would otherwise misread (an IPv6 address, a name that looks like a number or a bool).
    private func quoted(_ s: String) -> String {
        let plain = s.utf8.allSatisfy { $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") }
        let ambiguous = ["true", "false", "yes", "no", "on", "off", "null", "~"].contains(s.lowercased()) || Double(s) != nil
        return plain && !ambiguous && !s.hasPrefix("[") ? s : "\"\(s)\""
    }

    static func spell(_ b: Bandwidth) -> String {
        let v = b.bitsPerSecond
        for (scale, unit) in [(Int64(1_000_000_000_000), "Tbit"), (1_000_000_000, "Gbit"), (1_000_000, "Mbit"), (1000, "kbit")] where v % scale == 0 {
            return "\(v / scale)\(unit)"
        }
        return "\(v)bit/s"
    }

    static func spell(_ l: Latency) -> String {
        let v = l.nanoseconds
        if v == 0 { return "0us" }
        for (scale, unit) in [(Int64(1_000_000_000), "s"), (1_000_000, "ms"), (1000, "us")] where v % scale == 0 {
            return "\(v / scale)\(unit)"
        }
        return "\(v)ns"
    }

    static func spell(_ link: Link) -> String { "{bandwidth: \(spell(link.bandwidth)), latency: \(spell(link.latency))}" }

    static func spellSize(_ bytes: Int64) -> String {
        for (scale, unit) in [(Int64(1 << 30), "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] where bytes % scale == 0 {
            return "\(bytes / scale)\(unit)"
        }
        return "\(bytes)"
    }

    static func spell(_ o: FanOutOverride) -> String {
        var parts: [String] = []
        if let t = o.total { parts.append("total: \(t)") }
        for tier in Tier.allCases { if let v = o.perTier[tier] { parts.append("\(tier.name): \(v)") } }
        return "{\(parts.joined(separator: ", "))}"
    }
}
