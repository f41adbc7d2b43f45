import ArgumentParser

/// Options every read command shares (DESIGN §7: `--json` on every read command).
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON instead of text.")
    var json = false
}
