public import BenCore

/// What is wrong with a topology file or a planning request, in the terms of the person who has to fix it.
///
/// Every problem names where it is (file and line, when it comes from a file), the field (a path such as
/// `regions[eu-1].zones[a].racks[r01].nodes[proxy-7].address`) and what to do about it. `description` is the
/// exact line `benctl topology check` prints, so a test can compare it whole.
public struct TopologyError: Error, Sendable, Hashable, CustomStringConvertible, FileLocated {
    /// A stable name for the kind of problem, for scripts and `--json` output. New codes may be added.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The text is not YAML (or not UTF-8).
        case syntax
        case missingField = "missing_field"
        case wrongType = "wrong_type"
        case unknownField = "unknown_field"
        case invalidValue = "invalid_value"
        case duplicateName = "duplicate_name"
        case duplicateID = "duplicate_id"
        case duplicateAddress = "duplicate_address"
        case duplicateKey = "duplicate_key"
        case unknownRole = "unknown_role"
        case badAddress = "bad_address"
        case badKey = "bad_key"
        case badFanOut = "bad_fan_out"
        case unknownNode = "unknown_node"
        case conflict
        /// Some required node cannot be given a parent under the fan-out, uplink and relay constraints.
        case unreachable
        /// A planning request selects no node that can receive the deployment.
        case noTargets = "no_targets"
        /// A planning request (not the file) is malformed: an unknown role or location, an impossible k.
        case badRequest = "bad_request"
    }

    public var code: Code
    /// Where: the file (empty when the problem is not in one), the 1-based line (0 when there is no single line) and
    /// the path of the field (empty for the document as a whole).
    public var location: FileLocation
    /// What is wrong, in one clause.
    public var problem: String
    /// What to do about it, in one clause.
    public var fix: String

    public init(_ code: Code, file: String = "", line: Int = 0, field: String, problem: String, fix: String) {
        self.code = code
        self.location = FileLocation(file: file, line: line, field: field)
        self.problem = problem
        self.fix = fix
    }


    /// `file:line: field: problem; fix`, leaving out the parts that are unknown.
    public var description: String { location.describe(problem, fix: fix) }

    /// The same problem, placed in a file (for errors raised by the planner during validation).
    func located(file: String, line: Int) -> TopologyError {
        var copy = self
        copy.file = file
        copy.line = line
        return copy
    }
}
