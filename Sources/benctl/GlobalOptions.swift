import ArgumentParser
import BenCore

/// Options every read command shares (DESIGN §7: `--json` on every read command).
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON instead of text.")
    var json = false

    /// Prints `value` as canonical JSON with `--json`; otherwise `text` prints it for people. `value` is built only
    /// when it is printed.
    func show(_ value: @autoclosure () throws -> JSONValue, text: () throws -> Void) throws {
        if json { print(try CanonicalJSON.string(value())) } else { try text() }
    }
}

/// The chunk store a `benctl store` verb works on.
struct StoreDirectoryArgument: ParsableArguments {
    @Argument(help: "The store directory.")
    var directory: String
}

/// The topology file a `benctl topology` verb reads.
struct TopologyFileArgument: ParsableArguments {
    @Argument(help: "The topology file.")
    var file: String
}
