import ArgumentParser
import BenCore

extension Benctl {
    /// `benctl context …`: named connection settings, like kubeconfig contexts and `nats context`.
    struct ContextCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "context",
            abstract: "Save, list and pick contexts: a fleet, its NATS servers, an operator key and NATS credentials.",
            discussion: """
                Every verb that talks to the ledger takes its settings from its flags, then the environment (BEN_FLEET, \
                BEN_NATS, BEN_OPERATOR_KEY, BEN_NATS_CREDS), then the context: --context NAME, else BEN_CONTEXT, else the \
                one `benctl context use` picked. Contexts live in $BEN_CONFIG_DIR, else $XDG_CONFIG_HOME/ben, else \
                ~/.config/ben.
                """,
            subcommands: [Save.self, Use.self, List.self, Show.self, Remove.self])

        struct Save: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Save a context (replacing one of that name).")

            @Argument(help: "The context's name.")
            var name: String

            @Option(name: .long, help: "The fleet.")
            var fleet: String?

            @Option(name: .long, help: "NATS server URL(s), comma-separated.")
            var nats: String?

            @Option(name: .long, help: "The operator key file that signs requests that change state.")
            var key: String?

            @Option(name: .long, help: "A NATS credentials file (.creds), for servers that use accounts.")
            var creds: String?

            @Option(name: .long, help: "A note for `benctl context ls`.")
            var description: String?

            @Flag(name: .long, help: "Also make it the context in use.")
            var use = false

            func validate() throws {
                guard BenContext.isValidName(name) else { throw ValidationError("'\(name)' is not a context name (\(BenContext.nameRule))") }
                if let fleet, FleetName(fleet) == nil { throw ValidationError("--fleet: \(FleetName.rule)") }
            }

            func run() throws {
                var context = BenContext(name: name)
                context.fleet = fleet
                context.nats = (nats ?? "").split(separator: ",").map { String($0).trimmingCharacters() }.filter { !$0.isEmpty }
                context.operatorKey = key.map(absolute)
                context.credentials = creds.map(absolute)
                context.description = description
                let store = ContextStore.standard
                try store.save(context)
                if use { try store.select(name) }
                print("saved context \(name)\(use ? " and using it" : "")")
            }
        }

        struct Use: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Use this context from now on.")

            @Argument(help: "The context's name.")
            var name: String

            func run() throws {
                try ContextStore.standard.select(name)
                print("using context \(name)")
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the saved contexts; * marks the one in use.")

            @OptionGroup var output: OutputOptions

            func run() throws {
                let store = ContextStore.standard
                let selected = store.selected()
                let contexts = try store.names().map { try store.load($0) }
                try output.show(["selected": selected.map { .string($0) } ?? .null, "contexts": .array(contexts.map(\.json))]) {
                    if contexts.isEmpty { print("no contexts yet; `benctl context save NAME --fleet F --nats URL --key FILE`") }
                    for c in contexts {
                        let mark = c.name == selected ? "*" : " "
                        print("\(mark) \(c.name)  fleet \(c.fleet ?? "-")  nats \(c.nats.isEmpty ? "-" : c.nats.joined(separator: ","))\(c.description.map { "  \($0)" } ?? "")")
                    }
                }
            }
        }

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show a context (default: the one in use).")

            @Argument(help: "The context's name.")
            var name: String?

            @OptionGroup var output: OutputOptions

            func run() throws {
                let store = ContextStore.standard
                guard let name = name ?? store.selected() else { throw CommandFailure("no context in use; `benctl context use NAME`") }
                let context = try store.load(name)
                try output.show(context.json) {
                    print("context \(name)\(store.selected() == name ? " (in use)" : "")")
                    print("  fleet        \(context.fleet ?? "-")")
                    print("  nats         \(context.nats.isEmpty ? "-" : context.nats.joined(separator: ","))")
                    print("  operator key \(context.operatorKey ?? "-")")
                    print("  credentials  \(context.credentials ?? "-")")
                    if let description = context.description { print("  description  \(description)") }
                }
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete a saved context.")

            @Argument(help: "The context's name.")
            var name: String

            func run() throws {
                try ContextStore.standard.remove(name)
                print("removed context \(name)")
            }
        }
    }
}

/// A path as given, made absolute against the working directory, so a context works from any folder.
func absolute(_ path: String) -> String {
    if path.hasPrefix("/") || path.hasPrefix("~") { return path }
    let cwd = ProcessEnvironment.workingDirectory
    return cwd.hasSuffix("/") ? cwd + path : cwd + "/" + path
}
