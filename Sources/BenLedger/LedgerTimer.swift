import BenCore
import BenProtocol

/// The ledger shell's timers: each deployment's deadline (the deployment machine's) and each seeder's own.
enum LedgerTimer: Hashable, Sendable {
    case deadline(Version)
    case seeder(Version, SeederMachine.Timer)
    /// The deployment machine's own timers (a wave's bake).
    case rollout(DeploymentMachine.Timer)
}
