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
        #expect(config.maxMessagesPerSubject == 1 && config.storage == .file)
    }
}
