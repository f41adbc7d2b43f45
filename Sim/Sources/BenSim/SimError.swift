public import BenCore

/// Everything that can go wrong in the simulator, in the terms of the person running it.
///
/// A scenario problem names the file, the line and the field (`scenarios/dc.yaml:12: faults.kill[0].at: …`) and
/// says what to do; a run problem (an unplannable fleet, an engine asked for more than it can hold) names the
/// scenario and the setting to change. `description` is the line `ben-sim` prints.
public struct SimError: Error, Sendable, Hashable, CustomStringConvertible, FileLocated {
    /// A stable name for the kind of problem, for scripts; new codes may be added.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The scenario file cannot be read, or is not YAML.
        case unreadable
        case syntax
        case missingField = "missing_field"
        case unknownField = "unknown_field"
        case wrongType = "wrong_type"
        case invalidValue = "invalid_value"
        /// The topology the scenario names is invalid (its own error follows).
        case topology
        /// The planner could not plan the fleet.
        case planning
        /// The scenario asks an engine for more than it is built for.
        case tooLarge = "too_large"
        /// An output file could not be written.
        case output
    }

    public var code: Code
    /// Where: the file (empty when the problem is not in one), the 1-based line (0 when there is no single line) and
    /// the path of the field (empty for the document as a whole).
    public var location: FileLocation
    /// What is wrong, in one clause.
    public var problem: String
    /// What to do about it, in one clause.
    public var fix: String

    public init(_ code: Code, file: String = "", line: Int = 0, field: String = "", problem: String, fix: String = "") {
        self.code = code
        self.location = FileLocation(file: file, line: line, field: field)
        self.problem = problem
        self.fix = fix
    }


    /// `file:line: field: problem; fix`, leaving out the parts that are unknown.
    public var description: String { location.describe(problem, fix: fix) }
}
