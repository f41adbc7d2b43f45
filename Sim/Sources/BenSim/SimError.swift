/// Everything that can go wrong in the simulator, in the terms of the person running it.
///
/// A scenario problem names the file, the line and the field (`scenarios/dc.yaml:12: faults.kill[0].at: …`) and
/// says what to do; a run problem (an unplannable fleet, an engine asked for more than it can hold) names the
/// scenario and the setting to change. `description` is the line `ben-sim` prints.
public struct SimError: Error, Sendable, Hashable, CustomStringConvertible {
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
    /// The scenario file; empty when the problem is not in a file.
    public var file: String
    /// 1-based line in `file`, 0 when there is no single line.
    public var line: Int
    /// Path of the field (`faults.kill[0].at`), empty for the document as a whole.
    public var field: String
    public var problem: String
    public var fix: String

    public init(_ code: Code, file: String = "", line: Int = 0, field: String = "", problem: String, fix: String = "") {
        self.code = code
        self.file = file
        self.line = line
        self.field = field
        self.problem = problem
        self.fix = fix
    }

    /// `file:line: field: problem; fix`, leaving out what is unknown.
    public var description: String {
        var out = ""
        if !file.isEmpty { out += line > 0 ? "\(file):\(line): " : "\(file): " }
        if !field.isEmpty { out += "\(field): " }
        out += problem
        if !fix.isEmpty { out += "; \(fix)" }
        return out
    }
}
