import BenCore
import BenProtocol
import BenTestKit
import Testing

/// The test kit's text sketches read as drawn.
@Suite struct SketchTests {
    @Test func aTwoStripePlanSketchHasTheTreesAsDrawn() {
        let plan = PlanSketch.plan(
            """
            stripe 0
              ledger -> a
              a -> b, c
            stripe 1
              ledger -> b
              b -> a, c
            backups c: a
            """)
        #expect(plan.nodes.map(\.id) == ["a", "b", "c"])
        #expect(plan.stripes == [[Plan.ledger, 0, 0], [1, Plan.ledger, 1]])
        #expect(plan.backups == [[], [], [0]])
        #expect(plan.validate() == nil)
    }

    @Test func anAckSketchGivesAcksAndRelayReports() {
        let key = Key(digest: [UInt8](repeating: 1, count: 32))
        let sketch = AckSketch(
            """
            a active
            b refused: compile: bad rule
            c timeout: no aggregate by the deadline
            d -
            """, fleet: FleetName("test")!, version: 2, manifest: key, at: Timestamp(millisecondsSinceEpoch: 0))
        #expect(sketch.acks.map(\.node) == ["a", "b"])
        #expect(sketch.acks.map(\.status) == [.active, .refused])
        #expect(sketch.acks[1].reason == "compile: bad rule")
        #expect(sketch.reports == [.init(node: "c", reason: MissingReason(.timeout, "no aggregate by the deadline"))])
    }
}
