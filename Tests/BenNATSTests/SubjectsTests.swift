import BenCore
import BenNATS
import Testing

@Suite struct SubjectsTests {
    @Test func everySubjectOfAFleetFollowsDesignSection5() throws {
        let fleet = try #require(FleetName("eu-west_1"))
        #expect(NATSSubjects.announce(fleet) == "ben.eu-west_1.announce")
        #expect(NATSSubjects.ack(fleet) == "ben.eu-west_1.ack")
        #expect(NATSSubjects.heartbeat(fleet) == "ben.eu-west_1.heartbeat")
        #expect(NATSSubjects.api(fleet, verb: "status") == "ben.eu-west_1.api.status")
        #expect(NATSSubjects.apiWildcard(fleet) == "ben.eu-west_1.api.>")
        #expect(NATSSubjects.announceStream(fleet) == "BEN_eu-west_1_ANNOUNCE")
        let config = NATSSubjects.announceStreamConfig(fleet)
        #expect(config.subjects == ["ben.eu-west_1.announce"])
        #expect(config.storage == .file)
        // A bounded history, not only the last message: a poisoned head must not hide the real announcement.
        #expect(NATSSubjects.announceHistory == 64)
        #expect(config.maxMessagesPerSubject == NATSSubjects.announceHistory)
    }
}
