import BenCore
import BenIntent
import Testing

/// The same intent always compiles to the same bytes, and formatting never changes an artifact.
@Suite struct BundleDeterminismTests {
    @Test func buildingTwiceGivesIdenticalArtifacts() throws {
        let files = try ExampleIntent.files()
        let a = try ExampleIntent.bundle(files)
        let b = try ExampleIntent.bundle(files.reversed())
        #expect(a == b)
        #expect(a.artifacts.map(\.name) == a.artifacts.map(\.name).sorted())
        #expect(Set(a.artifacts.map(\.kind)) == Set(ArtifactKind.allCases), "the example uses every kind")
    }

    @Test func commentAndWhitespaceEditsChangeNoArtifact() throws {
        let files = try ExampleIntent.files()
        let before = try ExampleIntent.bundle(files)
        var edited = files
        edited = ExampleIntent.replacing(edited, in: "policies/edge.yaml", "rules:\n", with: "# reviewed by the security team\nrules:\n\n")
        edited = ExampleIntent.replacing(edited, in: "policies/edge.yaml", "request.client.ip.startsWith(\"10.\")", with: "request.client.ip.startsWith( \"10.\" )  ")
        edited = ExampleIntent.replacing(edited, in: "policies/edge.yaml", "request.client.country in [\"KP\", \"IR\", \"SY\"]", with: "request.client.country in ['KP','IR','SY']")
        edited = ExampleIntent.replacing(edited, in: "schemas/order.yaml", "  note: string\n", with: "  note:   string   # free text\n")
        // Field order and descriptions are not meaning either.
        edited = ExampleIntent.replacing(edited, in: "schemas/login_event.yaml", "  user: {type: string, required: true}\n  success: {type: bool, required: true}\n",
            with: "  success: {type: bool, required: true, description: did it work}\n  user: {type: string, required: true}\n")
        let after = try ExampleIntent.bundle(edited)
        #expect(before == after)
    }

    @Test func aSemanticEditChangesOnlyTheArtifactItTouches() throws {
        let files = try ExampleIntent.files()
        let before = try ExampleIntent.bundle(files)
        let after = try ExampleIntent.bundle(ExampleIntent.replacing(files, in: "policies/edge.yaml", "1000000u", with: "10000000u"))
        let changed = zip(before.artifacts, after.artifacts).filter { $0.bytes != $1.bytes }.map(\.0.name)
        #expect(changed == ["policy_pack/edge"])
    }

    @Test func artifactsCarryExpressionsInNormalForm() throws {
        let bundle = try ExampleIntent.bundle(try ExampleIntent.files())
        let edge = try #require(bundle.artifacts.first { $0.name == "policy_pack/edge" })
        let text = String(decoding: edge.bytes, as: UTF8.self)
        #expect(text.contains(#"request.client.country in [\"KP\", \"IR\", \"SY\"]"#))
        #expect(text == (try CanonicalJSON.string(try JSONParser.parse(edge.bytes))), "artifacts are RFC 8785 canonical")
    }
}
