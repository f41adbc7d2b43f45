package import BenPeerLink
package import BenProtocol
package import NIOCore

/// A shell's actor as its peer links see it: the agent and the ledger answer the same five link events, and
/// accept links the same way; what they do with a frame is their own.
package protocol PeerLinkShell: Actor {
    /// Accepted links that have not yet sent their HELLO.
    var unintroduced: Set<LinkID> { get set }
    /// Who each accepted link's handshake proved is on it.
    var provenPeer: [LinkID: LinkPeerInfo] { get set }
    /// A frame arrived on `link`.
    func receive(_ frame: PeerFrame, on link: LinkID)
    /// The chunk `index` was handed to `link`'s channel.
    func chunkWritten(_ link: LinkID, _ index: Int)
    /// `link` is gone, for `reason`.
    func linkClosed(_ link: LinkID, _ reason: String)
    /// The frame to write for what the machine asked.
    nonisolated func materialize(_ frame: OutboundFrame, header: FrameHeader) throws -> PeerFrame
}

extension PeerLinkShell {
    /// Accepts links on `listener` for as long as the runtime's tasks run.
    package func accept<Timer>(
        _ listener: NIOAsyncChannel<PeerChannel, Never>, through runtime: ShellRuntime<Timer>, settings: PeerLinkSettings
    ) async throws {
        try await runtime.accept(on: listener, settings: settings, handlers: handlers) { link in await self.awaitHello(on: link) }
    }

    /// An accepted link says who it is in its first frame; until then it is only a number.
    package func awaitHello(on link: LinkID) {
        unintroduced.insert(link)
    }

    /// An accepted link finished its handshake.
    package func authenticated(_ link: LinkID, _ peer: LinkPeerInfo) {
        provenPeer[link] = peer
    }

    /// The link events, each handed to this actor.
    package nonisolated var handlers: LinkSet.Handlers {
        LinkSet.Handlers(
            frame: { link, frame in await self.receive(frame, on: link) },
            chunkWritten: { link, index in await self.chunkWritten(link, index) },
            closed: { link, reason in await self.linkClosed(link, reason) },
            materialize: { frame, header in try self.materialize(frame, header: header) },
            authenticated: { link, peer in await self.authenticated(link, peer) })
    }
}
