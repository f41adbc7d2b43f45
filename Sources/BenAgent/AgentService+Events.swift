import BenCore
import BenCrypto
import BenIntent
import BenNATS
import BenPeerLink
import BenShell
package import BenProtocol
import BenStore
import Logging
import Foundation
import NIOCore

extension AgentService {
    /// A frame arrived on a link: the shell does the arithmetic (parse, hash, check a signature) and the machine
    /// decides. Anything unreadable closes the link with the reason.
    package func receive(_ frame: PeerFrame, on link: LinkID) {
        let now = self.now()
        if awaitingPlan.contains(link), !frame.mayPrecedePlan {
            refuse(link, "\(frame.kind) from a parent before a PLAN that names it")
            return
        }
        switch frame {
        case .hello(let hello):
            if let refusal = refusal(of: hello, on: link) {
                refuse(link, refusal)
                return
            }
            peerOfLink[link] = hello.node
            if unintroduced.remove(link) != nil {
                // Frames on this link carry the version it was opened for, even if this node refuses it.
                headerOfLink[link] = hello.header
                if hello.purpose == .pull { links.servesPuller(link) }
                if hello.purpose == .push && configuration.peerLink.security != nil { awaitingPlan.insert(link) }
                let incoming = hello.announcement.isEmpty ? nil : readAnnouncement(hello.announcement)
                perform(machine.handle(.linkAccepted(link, hello: hello, announcement: incoming, local: incoming.flatMap(holdings)), now: now))
            } else {
                perform(machine.handle(.hello(link, hello), now: now))
            }
        case .plan(_, let bytes):
            do {
                let subtree = try Subtree.decode(bytes)
                if let refusal = refusal(of: subtree, on: link) {
                    logger.warning("refused a PLAN", metadata: ["link": "\(link)", "peer": "\(peerOfLink[link].map(\.rawValue) ?? "?")", "reason": "\(refusal)"])
                    links.close(link, bye: headerOfLink[link].map { (.protocolError, refusal, $0) }, reason: refusal)
                    return
                }
                awaitingPlan.remove(link)
                perform(machine.handle(.plan(link, subtree), now: now))
            } catch {
                refuse(link, "unreadable PLAN: \(error)")
            }
        case .manifest(_, let bytes):
            let key = BLAKE2b.key(of: bytes)
            let manifest = try? Manifest.decode(bytes)
            perform(machine.handle(.manifest(link, manifest, actualKey: key), now: now), received: ByteBuffer(bytes: bytes))
        case .chunk(let header, let index, let key, let bytes):
            // Hashed, stored and kept for forwarding straight from the frame's buffer: no copy.
            let actual = bytes.withUnsafeReadableBytes { BLAKE2b.key(of: $0) }
            noteChunk(header.version, bytes: bytes.readableBytes, from: peerOfLink[link])
            countReceived(bytes.readableBytes, from: peerOfLink[link])
            perform(machine.handle(.chunk(link, index: Int(index), claimedKey: key, actualKey: actual), now: now), received: bytes)
        case .ack(_, let bytes):
            do {
                perform(machine.handle(.ack(link, try Aggregate.read(bytes).0), now: now))
            } catch {
                refuse(link, "unreadable ACK: \(error)")
            }
        case .nack(_, let entries):
            perform(machine.handle(.nack(link, entries), now: now))
        case .bye(_, let code, let reason):
            perform(machine.handle(.bye(link, code, reason: reason), now: now))
        case .gossip(_, let datagram):
            gossipOverLink(datagram, on: link)
        }
    }

    func refuse(_ link: LinkID, _ reason: String) {
        logger.warning("closing peer link", metadata: ["link": "\(link)", "reason": "\(reason)"])
        links.close(link, bye: nil, reason: reason)
    }

    /// Reads a signed announcement envelope and checks its signature against the trusted ledger keys.
    func readAnnouncement(_ bytes: [UInt8]) -> IncomingAnnouncement? {
        readSigned(bytes, as: Announcement.self, context: .announce).map {
            IncomingAnnouncement(announcement: $0.document, envelope: bytes, signature: $0.signature)
        }
    }

    /// Reads a document the ledger signed under `context`, and checks the signature against the trusted ledger keys;
    /// the machine decides what a bad signature means. Nil (and a warning) for bytes that are no such document.
    func readSigned<D: CanonicalDocument>(_ bytes: [UInt8], as type: D.Type, context: SignatureContext) -> CheckedDocument<D>? {
        do {
            let (envelope, document) = try SignedEnvelope.decode(bytes, as: D.self)
            let keys = configuration.trustedLedgerKeys
            return CheckedDocument(document, signature: SignatureCheck { try envelope.verify(context: context, trusted: keys) })
        } catch {
            logger.warning("unreadable \(D.documentName)", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// What the store already holds of the announced bundle, so a resumed transfer asks only for the rest.
    func holdings(_ incoming: IncomingAnnouncement) -> LocalHoldings? {
        guard let (manifest, present) = store.holdings(of: incoming.announcement.manifest) else { return nil }
        allowChunks(of: manifest)
        var have = ChunkSet(count: present.count)
        for (i, held) in present.enumerated() where held { have.insert(i) }
        return LocalHoldings(chunkKeys: manifest.chunkKeys, have: have)
    }

    // MARK: Carrying out the machine's actions

    /// Carries out actions in order. `received` is the payload of the frame being handled, for `.storeChunk`
    /// and `.storeManifest`.
    func perform(_ actions: [AgentMachine.Action], received: ByteBuffer? = nil) {
        defer { tellGossip(after: actions) }
        for action in actions {
            switch action {
            case .connect(let link, let peer, _):
                connect(link, to: peer)
            case .send(let link, let frame):
                guard let header = headerOfLink[link] ?? currentHeader else { continue }
                if case .ack(let aggregate) = frame, dropsOwnAck(aggregate) { continue }
                links.send(link, frame, header: header)
                if case .ack(let aggregate) = frame { aggregateSent(aggregate, on: link) }
            case .close(let link, let code, let reason):
                let header = headerOfLink[link] ?? currentHeader
                links.close(link, bye: code.flatMap { c in header.map { (c, reason, $0) } }, reason: reason)
            case .storeChunk(_, let key), .storeManifest(let key):
                guard let bytes = received else { continue }
                do {
                    try bytes.withUnsafeReadableBytes { buffer throws(StoreError) in try store.put(buffer, hashedAs: key) }
                    if case .storeChunk = action { materializer.remember(key, bytes) }
                    if case .storeManifest = action, let manifest = try? Manifest.decode(bytes.readableBytesView) { allowChunks(of: manifest) }
                } catch {
                    logger.error("cannot store", metadata: ["chunk.key": "\(key.short)", "error": "\(error)"])
                }
            case .persist(let record):
                do {
                    try stateFile.save(record)
                } catch {
                    // Acting on a record that is not durable could let a restart accept an older version.
                    logger.critical("cannot persist the agent's state; stopping", metadata: ["error": "\(error)"])
                    tasks.finish()
                }
            case .compile(let version, let manifest):
                compileStarting(version)
                startCompile(version, manifest: manifest)
            case .activate(let version):
                if let intent = compiled.removeValue(forKey: version) {
                    holder.swap(to: intent, version: version)
                    swapDone(version)
                }
                logTransfer(version)
                heartbeatSoon()
            case .discardCompiled(let version):
                compiled[version] = nil
            case .publishAggregate(let aggregate):
                if dropsOwnAck(aggregate) { continue }
                publish(materializer.aggregateBytes(aggregate), to: NATSSubjects.ack(configuration.fleet))
                aggregateSent(aggregate, on: nil)
            case .armTimer(let timer, let at):
                arm(timer, at: at)
            case .cancelTimer(let timer):
                runtime.cancel(timer)
            case .report(let report):
                if case .announcementAccepted(let version) = report {
                    transfer = Transfer(version: version, acceptedAt: ContinuousClock.now)
                }
                log(report)
            }
        }
    }

    /// `--fault-drop-acks`: loses this aggregate if it carries this node's own ack and the budget is not spent.
    func dropsOwnAck(_ aggregate: Aggregate) -> Bool {
        guard acksToDrop > 0, aggregate.ackNodes.contains(configuration.node),
            configuration.faultDropAcksVersion.map({ $0 == aggregate.version }) ?? true
        else { return false }
        acksToDrop -= 1
        logger.warning("fault injection: lost an aggregate carrying this node's own ack", metadata: ["ben.version": "\(aggregate.version)"])
        return true
    }

    var currentHeader: FrameHeader? {
        machine.current.map { FrameHeader(fleet: configuration.fleet, version: $0.version) }
    }

    func connect(_ link: LinkID, to peer: PlanNode) {
        headerOfLink[link] = currentHeader
        runtime.connect(
            link, to: peer, settings: configuration.peerLink, handlers: handlers,
            connected: { await self.handle(.linkConnected(link)) },
            failed: { reason in await self.handle(.linkFailed(link, reason: reason)) })
    }

    /// Feeds one input to the machine and carries out what it decides.
    func handle(_ input: AgentMachine.Input) {
        perform(machine.handle(input, now: now()))
    }

    func arm(_ timer: AgentMachine.Timer, at: Timestamp) {
        runtime.arm(timer, at: at) { timer, token in await self.fire(timer, token: token) }
    }

    func fire(_ timer: AgentMachine.Timer, token: UInt64) {
        guard runtime.fired(timer, token: token) else { return }
        let now = self.now()
        // The progress check judges links by what arrived on them, partial frames included.
        if case .progressCheck = timer { perform(machine.handle(.linkBytes(links.receivedBytes()), now: now)) }
        perform(machine.handle(.timer(timer), now: now))
    }

    /// Compiles off the actor (the hot path keeps serving the old version meanwhile).
    func startCompile(_ version: Version, manifest: Key) {
        tasks.spawn {
            // The chunks were stored without waiting for the disk; they are made durable once, before the version
            // is swapped in and recorded as active.
            let outcome: Result<CompiledIntent, any Error> = Result {
                try self.store.makeDurable()
                return try self.compileBundle(manifest: manifest, version: version)
            }
            await self.compileFinished(version, outcome)
        }
    }

    func compileFinished(_ version: Version, _ outcome: Result<CompiledIntent, any Error>) {
        switch outcome {
        case .success(let intent):
            compiled[version] = intent
            handle(.compiled(version, .compiled))
        case .failure(let error):
            handle(.compiled(version, .failed(String(describing: error))))
        }
    }

    func noteChunk(_ version: Version, bytes: Int, from sender: NodeID?) {
        let now = ContinuousClock.now
        if transfer?.version != version { transfer = Transfer(version: version, acceptedAt: now) }
        if transfer!.firstChunkAt == nil {
            transfer!.firstChunkAt = now
            transfer!.firstChunkWall = self.now()
        }
        if bytes > transfer!.largestChunk {
            transfer!.largestChunk = bytes
            transfer!.firstLargestWall = self.now()
        }
        transfer!.chunks += 1
        transfer!.bytes += Int64(bytes)
        transfer!.bytesFrom["\(sender.map { "\($0)" } ?? "-")", default: 0] += Int64(bytes)
    }

    /// One line per activation with what it took: the figures the shaped-fleet benchmark reads.
    func logTransfer(_ version: Version) {
        guard let t = transfer, t.version == version else {
            logger.info("activated from chunks already held", metadata: ["ben.version": "\(version)"])
            return
        }
        let now = ContinuousClock.now
        func seconds(_ d: Duration) -> String { String(format: "%.3f", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) }
        logger.info(
            "transfer complete",
            metadata: [
                "ben.version": "\(version)", "chunks": "\(t.chunks)", "bytes": "\(t.bytes)",
                "first_chunk_s": "\(t.firstChunkAt.map { seconds($0 - t.acceptedAt) } ?? "-")", "complete_s": "\(seconds(now - t.acceptedAt))",
                "first_chunk_at": "\(t.firstChunkWall?.rfc3339 ?? "-")",
                "first_full_chunk_at": "\(t.firstLargestWall?.rfc3339 ?? "-")", "full_chunk_bytes": "\(t.largestChunk)",
                "complete_at": "\(self.now().rfc3339)",
                // sender:bytes,sender:bytes — sorted so the line is the same for the same transfer.
                "bytes_from": "\(t.bytesFrom.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ","))",
            ])
    }

    func log(_ report: PeerReport) {
        if observe(report) { return }  // counted, and logged with metadata (AgentService+Operations.swift)
        switch report {
        case .activated, .announcementAccepted, .answeredAgain, .aggregateSent:
            logger.info("\(report)")
        case .announcementRefused, .tamperedChunk, .tamperedManifest, .childUnreachable, .refused, .protocolViolation, .stripeStalled:
            logger.warning("\(report)")
        case .orphaned, .superseded, .backlogHandedOff, .childDeadButMoving, .prepared, .activationAccepted, .activationIgnored, .swappedAtBarrier, .alarmTaken,
            .alarmIgnored:
            logger.notice("\(report)")
        }
    }
}

extension PeerFrame {
    /// What a parent may send on a push link before its PLAN has been checked: nothing that carries data or acks.
    fileprivate var mayPrecedePlan: Bool {
        switch self {
        case .hello, .plan, .bye: true
        default: false
        }
    }
}
