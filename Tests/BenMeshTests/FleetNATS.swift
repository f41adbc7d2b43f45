import BenNATS
import BenTestKit

extension LocalFleet {
    /// A NATS connection to this fleet's server(s) as `identity`, with the credentials `benctl nats config` wrote for
    /// it: the server runs Ben's authorization, so a test that plays an attacker on NATS says whose credentials the
    /// attacker holds (a node's, to forge an ack; the ledger's, to replay an announcement).
    func connectNATS(as identity: NATSIdentity) async throws -> NATSConnection {
        var settings = NATSSettings()
        settings.credentialsFile = natsCredentials(identity)
        return try await NATSConnection.connect(to: natsURL.split(separator: ",").map(String.init), settings: settings)
    }
}
