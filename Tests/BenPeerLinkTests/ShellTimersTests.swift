import BenCore
import BenPeerLink
import BenShell
import BenProtocol
import Testing

/// A shell's timers: only the live arming of a timer fires, once.
@Suite struct ShellTimersTests {
    @Test func onlyTheLatestArmingFiresAndOnlyOnce() {
        var timers = ShellTimers<AgentMachine.Timer>()
        let first = timers.arm(.orphan(Version(1)))
        let second = timers.arm(.orphan(Version(1)))
        let supersededFired = timers.fire(.orphan(Version(1)), token: first)
        let latestFired = timers.fire(.orphan(Version(1)), token: second)
        let firedTwice = timers.fire(.orphan(Version(1)), token: second)
        #expect(!supersededFired, "an arming superseded by a later one does not fire")
        #expect(latestFired)
        #expect(!firedTwice, "a timer fires once")
    }

    @Test func aCancelledTimerNeverFiresAndOthersAreUntouched() {
        var timers = ShellTimers<AgentMachine.Timer>()
        let orphan = timers.arm(.orphan(Version(2)))
        let check = timers.arm(.progressCheck(Version(2)))
        timers.cancel(.orphan(Version(2)))
        let cancelledFired = timers.fire(.orphan(Version(2)), token: orphan)
        let otherFired = timers.fire(.progressCheck(Version(2)), token: check)
        #expect(!cancelledFired)
        #expect(otherFired)
    }
}
