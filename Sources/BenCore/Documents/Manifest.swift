/// The canonical list of a bundle's artifacts (DESIGN §1). Its key (BLAKE2b-256 of its canonical bytes) is
/// what an announcement names, so every chunk a node receives is checked against a chain that starts at a
/// signature.
public struct Manifest: CanonicalDocument {
    /// The `format` every manifest carries; a manifest of any other format is refused.
    public static let format = "ben/manifest/v1"
    /// The name errors give the document.
    public static let documentName = "manifest"
    /// Larger input is refused unread (16 MiB); an announcement states the exact size beforehand.
    public static let maxBytes = 16 << 20
    /// The members a manifest may have; any other is refused.
    public static let fields: Set<String> = ["format", "artifacts"]

    /// One artifact of the bundle: what it is, who needs it, and the keys of its bytes and of each chunk.
    public struct Artifact: Sendable, Hashable {
        /// Unique in the manifest, 1 to 256 bytes (`policy_pack/edge`).
        public var name: String
        /// What the artifact is.
        public var kind: ArtifactKind
        /// The roles that need this artifact; a node compiles only the artifacts its roles need.
        public var roles: [Role]
        /// The artifact's length in bytes.
        public var size: Int64
        /// The length of every chunk but the last, within `chunkSizeRange`.
        public var chunkSize: Int64
        /// Key of the whole artifact's bytes.
        public var key: Key
        /// The key of each chunk in order: exactly ⌈size / chunkSize⌉ of them.
        public var chunks: [Key]

        /// An artifact entry; `roles` is kept sorted, as the canonical form requires.
        public init(name: String, kind: ArtifactKind, roles: [Role], size: Int64, chunkSize: Int64, key: Key, chunks: [Key]) {
            self.name = name
            self.kind = kind
            self.roles = roles.sorted()
            self.size = size
            self.chunkSize = chunkSize
            self.key = key
            self.chunks = chunks
        }

        static let fields: Set<String> = ["name", "kind", "roles", "size", "chunk_size", "key", "chunks"]

        /// Chunk sizes a manifest may declare: 4 KiB to 64 MiB.
        public static let chunkSizeRange: ClosedRange<Int64> = 4096...(64 << 20)

        /// Whether a node that runs `roles` needs this artifact: it does when any of them is one of the artifact's.
        public func needed(by roles: some Sequence<Role>) -> Bool { roles.contains { self.roles.contains($0) } }

        /// The byte length of chunk `i`.
        public func chunkLength(_ i: Int) -> Int64 {
            min(chunkSize, size - Int64(i) * chunkSize)
        }
    }

    /// Artifacts sorted by name; names are unique.
    public var artifacts: [Artifact]

    /// A manifest of `artifacts`, kept sorted by name; the caller keeps the names unique.
    public init(artifacts: [Artifact]) {
        self.artifacts = artifacts.sorted { $0.name < $1.name }
    }

    /// Every chunk key of the bundle, in artifact then chunk order, without repeats.
    public var chunkKeys: [Key] {
        var seen = Set<Key>()
        var out: [Key] = []
        for artifact in artifacts {
            for key in artifact.chunks where seen.insert(key).inserted { out.append(key) }
        }
        return out
    }

    /// The bytes of all artifacts together (chunks shared between artifacts counted each time).
    public var totalSize: Int64 { artifacts.reduce(0) { $0 + $1.size } }

    /// Reads a manifest strictly: the known format, at most 65 536 artifacts sorted by unique name, each with
    /// sorted distinct roles, a chunk size in range and exactly the chunks its size needs.
    public init(reading r: FieldReader) throws(DocumentError) {
        let format = try r.string("format")
        guard format == Self.format else {
            throw r.error("format", .invalidValue, "expected \"\(Self.format)\"; this Ben reads no other manifest format")
        }
        let artifacts = try r.objects("artifacts", maxCount: 65_536, allowed: Artifact.fields) { (a) throws(DocumentError) -> Artifact in
            let name = try a.string("name")
            guard !name.isEmpty, name.utf8.count <= 256 else { throw a.error("name", .invalidValue, "1 to 256 bytes") }
            let kindText = try a.string("kind")
            guard let kind = ArtifactKind(rawValue: kindText) else {
                throw a.error("kind", .invalidValue, "\"\(kindText)\" is not one of \(ArtifactKind.spelling)")
            }
            let roles = try a.strings("roles", maxCount: Role.allCases.count, expected: "a role (\(Role.spelling))") {
                Role(rawValue: $0)
            }
            guard !roles.isEmpty, Set(roles).count == roles.count, roles == roles.sorted() else {
                throw a.error("roles", .invalidValue, "expected a sorted, non-empty list of distinct roles")
            }
            let size = try a.int("size")
            let chunkSize = try a.int("chunk_size", in: Artifact.chunkSizeRange)
            let key = try a.key("key")
            let chunks = try a.strings("chunks", expected: "64 lowercase hex digits (a key)") { Key(hex: $0) }
            let expected = (size + chunkSize - 1) / chunkSize
            guard chunks.count == expected else {
                throw a.error(
                    "chunks", .invalidValue, "\(chunks.count) chunks for \(size) bytes at \(chunkSize) per chunk; expected \(expected)")
            }
            return Artifact(name: name, kind: kind, roles: roles, size: size, chunkSize: chunkSize, key: key, chunks: chunks)
        }
        for i in artifacts.indices.dropFirst() where artifacts[i - 1].name >= artifacts[i].name {
            throw r.error("artifacts", .invalidValue, "artifacts must be sorted by name with no repeats (\"\(artifacts[i].name)\")")
        }
        self.artifacts = artifacts
    }

    /// The manifest's canonical form; its key is the manifest's identity.
    public var json: JSONValue {
        .object([
            "format": .string(Self.format),
            "artifacts": .array(
                artifacts.map { a in
                    .object([
                        "name": .string(a.name),
                        "kind": .string(a.kind.rawValue),
                        "roles": .array(a.roles.map { .string($0.rawValue) }),
                        "size": .int(a.size),
                        "chunk_size": .int(a.chunkSize),
                        "key": .string(a.key.hex),
                        "chunks": .array(a.chunks.map { .string($0.hex) }),
                    ])
                }),
        ])
    }
}
