public import BenCore

extension AgentMachine {
    /// Someone connected to this node's listener and sent HELLO: a parent pushing (with the signed announcement,
    /// which is checked exactly as one from NATS), or a node pulling chunks this node holds.
    ///
    /// `announcement` is the shell's reading of the HELLO's envelope (nil if it could not be read); `local` is
    /// what the node holds of that bundle, as for `onAnnouncement`.
    public mutating func onLinkAccepted(
        _ link: LinkID, hello: Hello, announcement: IncomingAnnouncement?, local: LocalHoldings?, now: Timestamp
    ) -> [Action] {
        guard hello.header.fleet == fleet else {
            return [.close(link, .refusedAnnouncement, reason: AnnouncementRefusal.otherFleet(hello.header.fleet).byeReason)]
        }
        switch hello.purpose {
        case .push:
            return acceptParent(link, hello: hello, announcement: announcement, local: local, now: now)
        case .pull:
            return acceptPuller(link, hello: hello)
        case .accept:
            return [.close(link, .protocolError, reason: "an accepting HELLO on a link this node did not open")]
        }
    }

    private mutating func acceptParent(
        _ link: LinkID, hello: Hello, announcement: IncomingAnnouncement?, local: LocalHoldings?, now: Timestamp
    ) -> [Action] {
        if let d = deployment, d.version == hello.header.version, d.untrusted.contains(hello.node) {
            return [.close(link, .protocolError, reason: "\(hello.node) served tampered bytes; this node takes nothing more from it")]
        }
        guard let incoming = announcement, incoming.announcement.version == hello.header.version else {
            return [.close(link, .refusedAnnouncement, reason: "HELLO carries no readable announcement for \(hello.header.version)")]
        }
        var actions: [Action] = []
        // This node may already be working on or done with the version (a parent that adopted it, or one of a
        // retry plan): it takes the link anyway, so it can serve its own subtree and send its answer up again.
        let a = incoming.announcement
        let sameDeployment =
            deployment?.version == a.version && deployment?.announcement.manifest == a.manifest && record.highestAccepted == a.version
        if !sameDeployment || a.issuedAt > deployment!.announcement.issuedAt {
            switch decide(incoming, now: now) {
            case .refuse(let reason):
                // The refusal goes up signed, on this link, before the BYE: the ledger reports the node's own
                // reason, never "unreachable". A fenced ledger's tree gets no signed word to carry to anyone.
                var actions: [Action] = [.report(.announcementRefused(version: a.version, reason: reason))]
                if reason != .staleEpoch(a.epoch, highest: record.highestEpoch) {
                    let refusal = signRefusal(of: a, reason: reason, now: now)
                    actions.append(
                        .send(link, .ack(Aggregate(fleet: a.fleet, version: a.version, relay: node, acks: [refusal], missing: []))))
                }
                actions.append(.close(link, .refusedAnnouncement, reason: reason.byeReason))
                return actions
            case .duplicate:
                actions += adoptEpoch(of: incoming.announcement)
            case .reannounce:
                actions += reannounce(incoming, now: now)
            case .answered(let answer):
                actions += startAnswered(incoming, answer: answer, local: local, now: now)
            case .new:
                actions += start(incoming, local: local, now: now)
            }
        }
        guard var d = deployment, d.version == hello.header.version else { return actions }
        d.parents[link] = Deployment.ParentLink(node: hello.node)
        d.lastHeard[link] = now
        if !d.isContacted {
            d.contact = .contacted(since: now, wasOrphan: d.isOrphaned)
            actions.append(.cancelTimer(.orphan(d.version)))
        }
        let accept = Hello(
            header: d.header, purpose: .accept, node: node, hasManifest: d.chunkKeys != nil, have: d.have)
        deployment = d
        actions.append(.send(link, .hello(accept)))
        // Contacted: a node that already held the whole bundle may compile now.
        actions += checkComplete(now: now)
        return actions
    }

    private mutating func acceptPuller(_ link: LinkID, hello: Hello) -> [Action] {
        guard var d = deployment, d.version == hello.header.version else {
            return [.close(link, .done, reason: "this node holds no bundle for \(hello.header.version)")]
        }
        d.serving.open(link, peer: hello.node)
        let accept = Hello(header: d.header, purpose: .accept, node: node, hasManifest: d.chunkKeys != nil, have: d.have)
        deployment = d
        return [.send(link, .hello(accept))]
    }

    /// An outbound link (to a child, or to a pull source) connected.
    public mutating func onLinkConnected(_ link: LinkID, now: Timestamp) -> [Action] {
        guard var d = deployment else { return [.close(link, nil, reason: "no deployment")] }
        if var pull = d.pulls[link] {
            pull.phase = .awaitingAccept
            d.pulls[link] = pull
            deployment = d
            return [.send(link, .hello(Hello(header: d.header, purpose: .pull, node: node, announcement: d.envelope)))]
        }
        let actions = lift(d.relay.onConnected(link, announcement: d.envelope))
        deployment = d
        return actions
    }

    /// The accepting side of a link this node opened answered HELLO.
    public mutating func onHello(_ link: LinkID, hello: Hello, now: Timestamp) -> [Action] {
        guard var d = deployment, hello.header == d.header, hello.purpose == .accept else {
            return [.close(link, .protocolError, reason: "unexpected HELLO")]
        }
        if var pull = d.pulls[link] {
            pull.phase = .requested
            d.lastHeard[link] = now
            // The ledger serves only targets: its accept confirms this node is one.
            if pull.source.id == Self.ledgerID, case .orphan(let since, _) = d.contact {
                d.contact = .orphan(since: since, confirmed: true)
            }
            // Ask only for what the holder has; the rest goes to the next source.
            var ask: [NackEntry] = []
            var elsewhere = Set<UInt32>()
            for index in pull.wanted.sorted() {
                if index == NackEntry.manifestIndex {
                    if hello.hasManifest { ask.append(NackEntry(index: index, code: .want)) } else { elsewhere.insert(index) }
                } else if hello.have.count == 0 || hello.have.contains(Int(index)) {
                    ask.append(NackEntry(index: index, code: .want))
                } else {
                    elsewhere.insert(index)
                }
            }
            pull.wanted.subtract(elsewhere)
            d.pulls[link] = pull
            deployment = d
            var actions: [Action] = []
            if !ask.isEmpty { actions.append(.send(link, .nack(ask))) }
            if !elsewhere.isEmpty {
                deployment!.exhaustedSources.insert(pull.source.id)
                actions += fetch(elsewhere, now: now)
            }
            if pull.wanted.isEmpty { actions += finishPull(link) }
            return actions + checkComplete(now: now)
        }
        let actions = lift(d.relay.onAccepted(link, hello: hello))
        deployment = d
        return actions
    }

    /// A link ended: refused, reset, timed out (the shell enforces per-chunk deadlines and minimum rates), or
    /// closed after BYE.
    public mutating func onLinkFailed(_ link: LinkID, reason: String, now: Timestamp) -> [Action] {
        guard var d = deployment else { return [] }
        if d.parents.removeValue(forKey: link) != nil {
            d.loseAckParent(link)
            deployment = d
            return []
        }
        if d.serving.close(link) {
            deployment = d
            return []
        }
        if let pull = d.pulls.removeValue(forKey: link) {
            if pull.source.id != Self.ledgerID { d.exhaustedSources.insert(pull.source.id) }
            deployment = d
            // The ledger is always the last resort; the progress check tries it again later.
            return pull.source.id == Self.ledgerID ? [] : fetch(pull.wanted, now: now)
        }
        let (relayActions, gaveUp) = d.relay.onLinkFailed(link, reason: reason, now: now)
        deployment = d
        var actions = lift(relayActions)
        if gaveUp != nil { actions += maybeSendAggregate(now: now) }
        return actions
    }

    /// The peer said goodbye.
    public mutating func onBye(_ link: LinkID, code: ByeCode, reason: String, now: Timestamp) -> [Action] {
        guard var d = deployment else { return [.close(link, nil, reason: "bye")] }
        if d.relay.child(on: link) != nil && code == .refusedAnnouncement {
            // A child refused the announcement: it will not relay, so its children are adopted.
            let refused = d.relay.onRefused(link, reason: reason)
            deployment = d
            var actions: [Action] = [.close(link, nil, reason: "child refused: \(reason)")]
            if let refused { actions += adoptChildren(of: refused, now: now) }
            return actions + maybeSendAggregate(now: now)
        }
        if d.pulls[link] != nil && code == .notTargeted {
            d.pulls[link] = nil
            d.stage = .notTargeted
            let unserved = lift(d.serving.stopAwaiting())
            deployment = d
            return [
                .close(link, nil, reason: reason), .cancelTimer(.progressCheck(d.version)), .cancelTimer(.ackDeadline(d.version)),
                .cancelTimer(.relayCheck(d.version)),
            ] + unserved
        }
        deployment = d
        return [.close(link, nil, reason: "peer said: \(code) \(reason)")] + onLinkFailed(link, reason: "peer closed: \(reason)", now: now)
    }

    /// Adopts the children of a child that will not relay (it refused), in every stripe it was to relay in.
    mutating func adoptChildren(of child: NodeID, now: Timestamp) -> [Action] {
        guard var d = deployment, d.relay.children[child] != nil else { return [] }
        let actions = lift(d.relay.adoptChildren(of: child).actions)
        deployment = d
        return actions
    }
}
