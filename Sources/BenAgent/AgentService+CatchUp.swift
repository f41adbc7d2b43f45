import BenCore
import BenNATS
import BenProtocol
import Logging

extension AgentService {
    /// Catches up from the announcement stream (issue 15): reads back every announcement it keeps
    /// (`NATSSubjects.announceHistory`), checks each signature, and lets the machine choose the one to act on
    /// (`AgentMachine.catchUp(from:now:)`), so a forged or replayed message at the head of the stream never
    /// hides the real announcement below it. This only fetches, reads and logs; the choice is the machine's.
    func catchUp(_ connection: NATSConnection) async {
        let fleet = configuration.fleet
        let stream = NATSSubjects.announceStream(fleet)
        let stored: [JetStream.StoredMessage]
        do {
            stored = try await connection.jetStream().messages(
                stream: stream, subject: NATSSubjects.announce(fleet), limit: NATSSubjects.announceHistory)
        } catch {
            // No stream yet (the ledger has never run) or JetStream is away: live announcements still arrive.
            logger.notice("no stored announcement to catch up on", metadata: ["reason": "\(error)"])
            return
        }
        var history: [IncomingAnnouncement] = []
        var sequences: [UInt64] = []
        for message in stored {
            guard let incoming = readAnnouncement(message.payload) else { continue }
            history.append(incoming)
            sequences.append(message.sequence)
        }
        let choice = machine.catchUp(from: history, now: now())
        for skipped in choice.skipped {
            let metadata: Logger.Metadata = [
                "ben.version": "\(skipped.version)", "stream.sequence": "\(sequences[skipped.position])", "reason": "\(skipped.reason)",
            ]
            if skipped.reason.isSuspect {
                logger.warning("catching up: skipped an announcement in the stream", metadata: metadata)
            } else {
                logger.debug("catching up: passed over an older announcement in the stream", metadata: metadata)
            }
        }
        guard let chosen = choice.chosen, let position = choice.chosenPosition else {
            logger.info("no stored announcement to catch up on", metadata: ["stream": "\(stream)"])
            return
        }
        logger.info(
            "catching up from the stream",
            metadata: [
                "ben.version": "\(chosen.announcement.version)", "stream.sequence": "\(sequences[position])", "stored": "\(stored.count)",
                "outcome": "\(choice.outcome)",
            ])
        noteFleetWide(chosen)
        handle(.announcement(chosen, local: holdings(chosen)))
    }
}
