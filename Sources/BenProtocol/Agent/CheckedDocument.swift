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
