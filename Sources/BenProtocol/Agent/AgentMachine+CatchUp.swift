public import BenCore

extension AgentMachine {
    /// Chooses what to act on from the announcement stream's history, when the node (re)connects and catches up.
    ///
    /// `history` is every readable message the stream holds, oldest first, each with its signature checked
    /// against the trusted ledger keys. The choice, in order:
    ///
    /// 1. The newest announcement this node would start work on (`onAnnouncement` would accept it as new): signed
    ///    by a trusted ledger for this fleet, not expired, of a version above the one it runs and not below the
    ///    highest it accepted, and of an epoch no older than the newest epoch a trusted ledger signed in the
    ///    history (a fenced ledger's announcement, or an old one replayed, loses to the current holder's).
    ///    "Newest" is the highest version, then epoch, then `issued_at`, then position.
    /// 2. Else the newest announcement from a trusted ledger, for this fleet, under that newest epoch, whatever
    ///    the node would say to it (usually the version it runs): handed in, it keeps the node's epoch and its
    ///    idempotent answer exactly as a live one would.
    /// 3. Else the last message: nothing there is from a ledger this node trusts, and it refuses it as it would a
    ///    live one (a misconfigured node's signed refusal tells the ledger why).
    ///
    /// A forged or replayed message at the head of the stream therefore never hides the real announcement below
    /// it. Pure: it reads the machine's state and changes nothing; the caller hands `chosen` to `onAnnouncement`
    /// at once, before any other input, so the choice is made against the same state.
    public func catchUp(from history: [IncomingAnnouncement], now: Timestamp) -> AnnouncementCatchUp {
        guard !history.isEmpty else { return AnnouncementCatchUp(outcome: .empty, chosen: nil, chosenPosition: nil, skipped: []) }
        // The newest epoch a trusted ledger signed for this fleet fences off older ones, as it would live.
        let trustedEpoch = history.filter { $0.signature == .valid && $0.announcement.fleet == fleet }.map(\.announcement.epoch).max() ?? 0
        var view = self
        view.record.highestEpoch = max(record.highestEpoch, trustedEpoch)
        let decisions = history.map { view.decide($0, now: now) }

        func rank(_ i: Int) -> (UInt64, UInt64, Int64, Int) {
            let a = history[i].announcement
            return (a.version.rawValue, a.epoch, a.issuedAt.millisecondsSinceEpoch, i)
        }
        func newest(_ positions: [Int]) -> Int? { positions.max { rank($0) < rank($1) } }
        let newer = decisions.indices.filter {
            switch decisions[$0] {
            case .new, .reannounce: true
            case .duplicate, .answered, .refuse: false
            }
        }
        let trusted = decisions.indices.filter {
            switch decisions[$0] {
            case .new, .reannounce, .duplicate, .answered: true
            case .refuse(let reason): reason.provesEpoch
            }
        }
        let outcome: AnnouncementCatchUp.Outcome
        let chosen: Int
        if let i = newest(newer) {
            (outcome, chosen) = (.newer, i)
        } else if let i = newest(trusted) {
            (outcome, chosen) = (.nothingNewer, i)
        } else {
            (outcome, chosen) = (.nothingTrusted, history.count - 1)
        }
        let chosenVersion = history[chosen].announcement.version
        let skipped = history.indices.filter { $0 != chosen }.map { i -> AnnouncementCatchUp.Skipped in
            let reason: AnnouncementCatchUp.Reason
            if case .refuse(let refusal) = decisions[i] { reason = .refused(refusal) } else { reason = .superseded(by: chosenVersion) }
            return AnnouncementCatchUp.Skipped(position: i, version: history[i].announcement.version, reason: reason)
        }
        return AnnouncementCatchUp(outcome: outcome, chosen: history[chosen], chosenPosition: chosen, skipped: skipped)
    }
}
