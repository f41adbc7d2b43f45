public import BenCore
public import BenPeerLink
public import BenProtocol
import BenMetrics
public import Logging
public import NIOCore
import Synchronization

/// What every shell around a machine needs, once (issue 14): child tasks that never outlive the service, the
/// machine's timers, the wall clock, and outbound peer links. The agent and the ledger each own one; only the
/// decisions differ, and those stay in their machines.
///
/// Timers are checked where they are handled: `arm` returns nothing to the caller but hands the firing back with
/// its token, and the shell's actor asks `fired(_:token:)` while it handles that event, so a timer re-armed or
/// cancelled in between is dropped in order with everything else the actor does.
public final class ShellRuntime<Timer: Hashable & Sendable>: Sendable {
    public let tasks = ShellTasks()
    public let links: LinkSet
    private let timers = Mutex(ShellTimers<Timer>())
    /// Added to the system clock (tests model a host whose clock is wrong; zero in production).
    public let clockOffset: Duration
    private let logger: Logger

    public init(links: LinkSet, logger: Logger, clockOffset: Duration = .zero) {
        self.links = links
        self.logger = logger
        self.clockOffset = clockOffset
    }

    /// The shell's wall clock: what it passes its machine as `now`.
    public func now() -> Timestamp { SystemClock.now() + clockOffset }

    /// Arms `timer` for `at` on this shell's clock; when it comes, `fire` runs with the token to check.
    public func arm(_ timer: Timer, at: Timestamp, fire: @escaping @Sendable (Timer, UInt64) async -> Void) {
        let token = timers.withLock { $0.arm(timer) }
        tasks.run(at: at - clockOffset) { await fire(timer, token) }
    }

    public func cancel(_ timer: Timer) {
        timers.withLock { $0.cancel(timer) }
    }

    /// Whether a firing is the live arming of its timer (then the timer is spent). Call it while handling the
    /// firing, on the shell's actor.
    public func fired(_ timer: Timer, token: UInt64) -> Bool {
        timers.withLock { $0.fire(timer, token: token) }
    }

    /// Opens an outbound peer link to `peer` and runs it as a child task: `connected` once it is up (then its
    /// frames go to `handlers`), `failed` with a reason an operator can act on if it cannot connect.
    public func connect(
        _ link: LinkID, to peer: PlanNode, settings: PeerLinkSettings, handlers: LinkSet.Handlers,
        connected: @escaping @Sendable () async -> Void, failed: @escaping @Sendable (String) async -> Void
    ) {
        let registration = links.register(link)
        let links = self.links
        let logger = self.logger
        tasks.spawn {
            do {
                // The handshake runs inside connect: nothing is written before the peer proved it is `peer.id`.
                let (channel, info) = try await PeerLink.connect(
                    host: peer.address.host, port: peer.address.port, target: peer.id, expected: peer.assignment, settings: settings,
                    logger: logger)
                if let info { await handlers.authenticated(link, info) }
                await connected()
                await links.run(link, registration: registration, channel: channel, handlers: handlers)
            } catch {
                links.unregister(link)
                if let refused = error as? LinkRefused { Metric.linksRefused.increment(["reason": refused.reason.rawValue]) }
                await failed("cannot connect to \(peer.id) at \(peer.address): \(PeerLink.describe(error))")
            }
        }
    }

    /// Accepts links on a listener until cancelled, each run as a child task.
    public func accept(
        on listener: NIOAsyncChannel<PeerChannel, Never>, settings: PeerLinkSettings, handlers: LinkSet.Handlers,
        accepted: @escaping @Sendable (LinkID) async -> Void
    ) async throws {
        let tasks = self.tasks
        try await links.accept(
            on: listener, maxInbound: settings.maxInboundLinks, secured: settings.security != nil, spawn: { tasks.spawn($0) }, handlers: handlers, accepted: accepted)
    }
}
