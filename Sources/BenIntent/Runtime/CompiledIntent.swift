public import BenCore

/// An artifact as an agent holds it after fetching: its manifest entry and its bytes. The caller has
/// checked the bytes against `entry.key` (ChunkStore.artifactBytes does); BenIntent does no hashing.
public struct LoadedArtifact: Sendable {
    public var entry: Manifest.Artifact
    public var bytes: [UInt8]

    public init(entry: Manifest.Artifact, bytes: [UInt8]) {
        self.entry = entry
        self.bytes = bytes
    }
}

/// One version of intent, compiled for the roles of one node: immutable, shared by every reader.
///
/// Build it outside the hot path (`compile`), then hand it to `ActiveIntent.swap(to:)`. Its role runtimes
/// (`proxy`, `spine`, `dataMigrator`, `detector`) are pure functions of this value and their input. It is a
/// class of constants so that a reader takes one reference to a whole version, never a mix of two.
public final class CompiledIntent: Sendable {
    /// A label the caller chooses, usually the manifest key, carried into every result.
    public let label: String
    public let roles: Set<Role>
    public let settings: IntentSettings
    public let schemas: [SchemaReference: SchemaDeclaration]
    public let layouts: [SchemaReference: RecordLayout]
    /// Sorted by name.
    public let policyPacks: [CompiledPolicyPack]
    public let ruleSets: [CompiledRuleSet]
    public let contracts: [CompiledContract]

    /// Decodes and compiles the artifacts `roles` need (others are ignored). Fails with every problem found;
    /// a node that gets this error keeps running its previous version and refuses the new one.
    public static func compile(
        _ artifacts: [LoadedArtifact], roles: Set<Role>, label: String, settings: IntentSettings = IntentSettings()
    ) throws(IntentErrors) -> CompiledIntent {
        var errors: [IntentError] = []
        var schemas: [SchemaReference: SchemaDeclaration] = [:]
        var packs: [PolicyPackDeclaration] = []
        var sets: [RuleSetDeclaration] = []
        var contracts: [ContractDeclaration] = []
        for artifact in artifacts where artifact.entry.needed(by: roles) {
            let name = artifact.entry.name
            do throws(IntentError) {
                switch artifact.entry.kind {
                case .schema:
                    let s = try ArtifactCodec.decodeSchema(artifact.bytes, artifact: name)
                    schemas[s.reference] = s
                case .policyPack: packs.append(try ArtifactCodec.decodePolicyPack(artifact.bytes, artifact: name))
                case .ruleSet: sets.append(try ArtifactCodec.decodeRuleSet(artifact.bytes, artifact: name))
                case .contract: contracts.append(try ArtifactCodec.decodeContract(artifact.bytes, artifact: name))
                }
            } catch {
                errors.append(error)
            }
        }
        var layouts: [SchemaReference: RecordLayout] = [:]
        for (ref, s) in schemas { layouts[ref] = RecordLayout(name: ref.description, fields: s.fields, unknownFields: s.unknownFields) }
        func layout(_ ref: SchemaReference, for artifact: String) -> RecordLayout? {
            if let l = layouts[ref] { return l }
            errors.append(IntentError(.unknownReference, file: artifact, line: 0, column: 0, field: "", "needs schema \(ref), which the bundle does not carry for these roles"))
            return nil
        }
        var compiledPacks: [CompiledPolicyPack] = []
        for pack in packs.sorted(by: { $0.name < $1.name }) where !Set(pack.roles).isDisjoint(with: roles) {
            guard let l = layout(pack.input, for: ArtifactCodec.artifactName(.policyPack, pack.name)) else { continue }
            do throws(IntentErrors) { compiledPacks.append(try CompiledPolicyPack(pack, layout: l)) } catch { errors += error.errors }
        }
        var compiledSets: [CompiledRuleSet] = []
        for set in sets.sorted(by: { $0.name < $1.name }) {
            guard let l = layout(set.event, for: ArtifactCodec.artifactName(.ruleSet, set.name)) else { continue }
            do throws(IntentErrors) { compiledSets.append(try CompiledRuleSet(set, layout: l)) } catch { errors += error.errors }
        }
        var compiledContracts: [CompiledContract] = []
        for c in contracts.sorted(by: { $0.name < $1.name }) {
            let artifact = ArtifactCodec.artifactName(.contract, c.name)
            guard let s = layout(SchemaReference(name: c.schema, version: c.from), for: artifact),
                let t = layout(SchemaReference(name: c.schema, version: c.to), for: artifact)
            else { continue }
            do throws(IntentErrors) { compiledContracts.append(try CompiledContract(c, source: s, target: t)) } catch { errors += error.errors }
        }
        guard errors.isEmpty else { throw IntentErrors(errors) }
        return CompiledIntent(
            label: label, roles: roles, settings: settings, schemas: schemas, layouts: layouts, policyPacks: compiledPacks,
            ruleSets: compiledSets, contracts: compiledContracts)
    }

    init(
        label: String, roles: Set<Role>, settings: IntentSettings, schemas: [SchemaReference: SchemaDeclaration],
        layouts: [SchemaReference: RecordLayout], policyPacks: [CompiledPolicyPack], ruleSets: [CompiledRuleSet],
        contracts: [CompiledContract]
    ) {
        self.label = label
        self.roles = roles
        self.settings = settings
        self.schemas = schemas
        self.layouts = layouts
        self.policyPacks = policyPacks
        self.ruleSets = ruleSets
        self.contracts = contracts
    }

    /// Compiles straight from a build's output (what `benctl eval` and tests use).
    public static func compile(
        _ bundle: CompiledBundle, roles: Set<Role>, label: String, settings: IntentSettings = IntentSettings()
    ) throws(IntentErrors) -> CompiledIntent {
        let loaded = bundle.artifacts.map { a in
            // The entry's sizes and keys do not matter for compiling; only name, kind and roles are read.
            LoadedArtifact(
                entry: Manifest.Artifact(
                    name: a.name, kind: a.kind, roles: a.roles, size: Int64(a.bytes.count), chunkSize: 1 << 20,
                    key: Key(digest: [UInt8](repeating: 0, count: 32)), chunks: []),
                bytes: a.bytes)
        }
        return try compile(loaded, roles: roles, label: label, settings: settings)
    }

    public var proxy: ProxyRuntime { ProxyRuntime(intent: self) }
    public var spine: SpineRuntime { SpineRuntime(intent: self) }
    public var dataMigrator: DataMigratorRuntime { DataMigratorRuntime(intent: self) }
    public var detector: DetectorRuntime { DetectorRuntime(intent: self) }
}
