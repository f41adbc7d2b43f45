public import BenCore

/// What a node takes from the announcement stream's history when it catches up (issue 15): which one stored
/// announcement to act on, and why each of the others was passed over.
///
/// The stream keeps the fleet's latest announcements (`NATSSubjects.announceHistory`), not only the last one,
/// because the last message is whatever anyone published last: a forged announcement or a replayed old one there
/// must not decide what a node that was away runs. `AgentMachine.catchUp(from:now:)` makes the choice; the shell
/// reads the messages, checks their signatures, hands `chosen` to the machine as an ordinary announcement and logs
/// `skipped`.
public struct AnnouncementCatchUp: Sendable, Hashable {
    /// Why a stored announcement was not the one chosen.
    public enum Reason: Sendable, Hashable, CustomStringConvertible {
        /// This node would refuse it: a bad or untrusted signature, another fleet, an epoch older than the newest
        /// one a trusted ledger signed in the history or one the node accepted, expired, not newer than what it runs.
        case refused(AnnouncementRefusal)
        /// Valid, but the history holds a newer valid announcement.
        case superseded(by: Version)

        /// Whether no trusted ledger signed it for this fleet under the newest epoch: forged, altered, another
        /// fleet's, or a fenced ledger's (a replay of an old announcement under a newer epoch is merely old). Worth
        /// a warning; the others are the stream's ordinary history.
        public var isSuspect: Bool {
            switch self {
            case .refused(let refusal): !refusal.provesEpoch
            case .superseded: false
            }
        }

        /// Why, in words, as the agent logs it.
        public var description: String {
            switch self {
            case .refused(let refusal): refusal.description
            case .superseded(let v): "superseded by \(v), which the stream also holds"
            }
        }
    }

    /// A stored announcement that was not chosen, and why.
    public struct Skipped: Sendable, Hashable {
        /// Its position in the history handed in (0: the oldest).
        public var position: Int
        /// The version it announced.
        public var version: Version
        /// Why it was passed over.
        public var reason: Reason
    }

    /// What the node found, and so what `chosen` means.
    public enum Outcome: Sendable, Hashable {
        /// Nothing stored.
        case empty
        /// A valid announcement of a version newer than the node runs: `chosen`, the newest of them.
        case newer
        /// Nothing newer; `chosen` is the newest announcement a trusted ledger signed for this fleet under the
        /// newest epoch (usually what the node runs), handed in so the node keeps that epoch and answers again as
        /// it would to a live one.
        case nothingNewer
        /// Nothing in the history is from a ledger this node trusts, for its fleet, under the newest epoch:
        /// `chosen` is the last message, handed in so the node refuses it as it would a live one (and says why,
        /// in a signed refusal, to a ledger it does not trust).
        case nothingTrusted
    }

    /// What the node found.
    public var outcome: Outcome
    /// The announcement to hand to `AgentMachine.onAnnouncement`; nil only when the history is empty.
    public var chosen: IncomingAnnouncement?
    /// Its position in the history handed in.
    public var chosenPosition: Int?
    /// Every other stored announcement, oldest first, with why it was not chosen.
    public var skipped: [Skipped]
}
