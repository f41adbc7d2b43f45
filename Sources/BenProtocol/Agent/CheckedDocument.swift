public import BenCore

/// A document the ledger signed, as the shell hands it in: read, with the shell's verdict on its signature against
/// the trusted ledger keys. The machine decides what a bad signature means.
public struct CheckedDocument<Document: Sendable & Hashable>: Sendable, Hashable {
    /// The document as read.
    public var document: Document
    /// Whether its signature verified against a trusted ledger key.
    public var signature: SignatureCheck

    /// A document and its signature check.
    public init(_ document: Document, signature: SignatureCheck) {
        self.document = document
        self.signature = signature
    }
}

/// The ledger's activation (context `ben/activate/v1`), as the agent machine takes it.
public typealias IncomingActivation = CheckedDocument<Activation>

/// The ledger's alarm (context `ben/alarm/v1`), as the agent machine takes it.
public typealias IncomingAlarm = CheckedDocument<Alarm>

extension AgentMachine {
    /// Why this node does not act on a document the ledger signed for `fleet` under `epoch`, whatever it says:
    /// a signature that is not a trusted ledger's, another fleet, or an epoch older than one it accepted (fencing).
    /// Nil when it passes.
    func refusal(of signature: SignatureCheck, fleet: FleetName, epoch: UInt64) -> String? {
        if case .invalid(let detail) = signature { return "its signature is not a trusted ledger's: \(detail)" }
        guard fleet == self.fleet else { return "it is for fleet \(fleet)" }
        guard epoch >= record.highestEpoch else {
            return "epoch \(epoch) is older than epoch \(record.highestEpoch), which this node already accepted"
        }
        return nil
    }
}
