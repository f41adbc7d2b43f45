import BenCore
import BenIntent
import Testing

/// Each role runtime on the example bundle: the result and why.
@Suite struct RoleRuntimeTests {
    static func intent(_ roles: Set<Role>, files: [IntentSourceFile]? = nil) throws -> CompiledIntent {
        try CompiledIntent.compile(try ExampleIntent.bundle(files ?? ExampleIntent.files()), roles: roles, label: "test")
    }

    @Test func proxyDecidesAndNamesTheRuleThatMatched() throws {
        let proxy = try Self.intent([.proxy]).proxy
        let export = proxy.decide(try ExampleIntent.request("proxy-export.json"))
        #expect(export.action == .deny)
        #expect(export.pack == "edge")
        #expect(export.rule == "limit_bulk_export")
        #expect(export.packs.first?.ruleIndex == 3)

        let api = proxy.decide(try ExampleIntent.request("proxy-api.json"))
        #expect(api.action == .route("api-backend"))
        #expect(api.rule == "api_to_backend")
        #expect(api.tags == ["internal"])
    }

    @Test func aSmallPolicyEditFlipsTheDecisionForTheSameRequest() throws {
        let v2 = ExampleIntent.replacing(try ExampleIntent.files(), in: "policies/edge.yaml", "1000000u", with: "10000000u")
        let decision = try Self.intent([.proxy], files: v2).proxy.decide(try ExampleIntent.request("proxy-export.json"))
        #expect(decision.action == .allow)
        #expect(decision.rule == nil, "the pack's default decided")
    }

    @Test func proxyDeniesARequestThatDoesNotFitItsSchema() throws {
        let decision = try Self.intent([.proxy]).proxy.decide(["method": "GET"])
        #expect(decision.action == .deny)
        #expect(decision.problems["edge"]?.problems.map(\.path).contains("path") == true)
    }

    @Test func failingRuleDeniesUnderOnErrorDeny() throws {
        let schema = """
            kind: schema
            name: r
            version: 1
            fields:
              n: {type: int, required: true}
              tags: {type: "map<string, string>", default: {}}
            ---
            kind: policy_pack
            name: p
            roles: [proxy]
            input: r@1
            on_error: ON_ERROR
            rules:
              - {name: divide, when: 100 / request.n > 1, action: {route: big}}
              - {name: lookup, when: 'request.tags.team == "core"', action: deny}
            default: allow
            """
        for (mode, expected) in [("deny", PolicyAction.deny), ("skip", .allow)] {
            let files = [IntentSourceFile(path: "x.yaml", text: schema.replacingOccurrences(of: "ON_ERROR", with: mode))]
            let proxy = try CompiledIntent.compile(try IntentCompiler.build(files).get(), roles: [.proxy], label: mode).proxy
            let decision = proxy.decide(["n": 0])
            #expect(decision.action == expected, "on_error: \(mode)")
            #expect(decision.packs.first?.errors.map(\.rule).first == "divide")
            #expect(decision.packs.first?.errors.first?.error.code == .divisionByZero)
        }
    }

    @Test func spineValidatesTheRecordAndAppliesItsPolicy() throws {
        let spine = try Self.intent([.spine]).spine
        let ok = spine.admit(try ExampleIntent.request("spine-order.json"))
        #expect(ok.valid)
        #expect(ok.schema == SchemaReference(name: "order", version: 2))
        #expect(ok.decision.action == .allow)
        #expect(ok.decision.tags == ["review"])

        let bad = spine.admit(["id": "x", "customer_id": "c", "amount_cents": "12", "currency": "EUR", "items": [], "colour": "red"])
        #expect(!bad.valid)
        #expect(bad.decision.action == .deny)
        #expect(bad.problems?.problems.map(\.description) == [
            "amount_cents: expected an int, found string", "colour: unknown field; the schema declares amount_cents, currency, customer_id, express, id, items",
        ])

        let login = spine.admit(["user": "ann", "success": true, "source_ip": "1.2.3.4", "at": "2026-11-27T10:00:00Z"], schema: SchemaReference(name: "login_event", version: 1))
        #expect(login.valid)
        #expect(login.normalized?["failures_last_hour"] == .int(0), "defaults are filled in")
    }

    @Test func dataMigratorMigratesByContract() throws {
        let migrator = try Self.intent([.dataMigrator]).dataMigrator
        let result = try migrator.migrate(try ExampleIntent.request("migrate-order-v1.json"), schema: "order", from: 1, to: 2).get()
        #expect(result.contracts == ["order_v1_to_v2"])
        #expect(result.record == [
            "id": "ord-0007", "customer_id": "cus-12", "amount_cents": 4250, "currency": "EUR",
            "items": [["sku": "lamp", "quantity": 1]], "express": false,
        ])
        guard case .failure(let f) = migrator.migrate(["id": "x"], schema: "order", from: 1, to: 2) else {
            Issue.record("an invalid v1 record migrated")
            return
        }
        #expect(f.reason.contains("not a valid order@1"))
        guard case .failure(let none) = migrator.migrate(["id": "x"], schema: "order", from: 2, to: 1) else {
            Issue.record("migrated without a contract")
            return
        }
        #expect(none.reason.contains("no contract"))
    }

    @Test func detectorRaisesTheAlertsAnEventMatches() throws {
        let detector = try Self.intent([.detector]).detector
        let result = detector.inspect(try ExampleIntent.request("detector-login.json"))
        #expect(result.alerts.map(\.rule) == ["login_without_mfa_from_abroad", "service_account_interactive", "night_owl"])
        #expect(result.alerts.map(\.severity) == [.medium, .critical, .info])
        let quiet = detector.inspect(["user": "ann", "success": true, "mfa": true, "country": "NL", "source_ip": "1.2.3.4", "at": "2026-11-27T10:00:00Z"])
        #expect(quiet.alerts.isEmpty)
        let unfit = detector.inspect(["user": 1])
        #expect(unfit.alerts.isEmpty)
        #expect(unfit.skipped["auth_anomalies"] != nil)
    }

    @Test func aNodeCompilesOnlyWhatItsRolesNeed() throws {
        let intent = try Self.intent([.detector])
        #expect(intent.policyPacks.isEmpty)
        #expect(intent.contracts.isEmpty)
        #expect(intent.ruleSets.map(\.name) == ["auth_anomalies"])
        #expect(Set(intent.schemas.keys) == [SchemaReference(name: "login_event", version: 1)])
    }

    @Test func aCorruptArtifactIsRefusedWithItsName() throws {
        let bundle = try ExampleIntent.bundle(try ExampleIntent.files())
        var broken = bundle
        let i = try #require(broken.artifacts.firstIndex { $0.name == "policy_pack/edge" })
        broken.artifacts[i].bytes = Array(#"{"format":"ben/policy_pack/v1","name":"edge"}"#.utf8)
        #expect(throws: IntentErrors.self) { try CompiledIntent.compile(broken, roles: [.proxy], label: "x") }
        do {
            _ = try CompiledIntent.compile(broken, roles: [.proxy], label: "x")
        } catch {
            #expect(error.errors.first?.file == "policy_pack/edge")
        }
    }
}
