import BenCore
import BenTopology
import Testing

/// Issue 13 item 4: a selector is checked against the topology, every unknown name is named with the nearest
/// known one, nothing is dropped, and a selector that selects no node is refused.
@Suite struct SelectorCheckTests {
    let topology = Topology.read(yaml: Fixtures.base, file: "t.yaml").topology!

    func names(_ selector: Selector) -> [String] { selector.selectedNodes(in: topology).map { topology.nodes[$0].id.rawValue } }

    func refusal(_ request: SelectorRequest) -> TopologyError? {
        do {
            _ = try Selector.checked(request, in: topology)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: [
        (SelectorRequest(roles: ["proxy"]), ["a2", "a3"]),
        (SelectorRequest(roles: ["detector"], locations: ["eu/b"]), ["b2"]),
        (SelectorRequest(locations: ["eu/a/r1"]), ["a1", "a2", "a3"]),
        (SelectorRequest(locations: ["eu"]), ["a1", "a2", "a3", "b1", "b2"]),
        (SelectorRequest(nodes: ["b1", "a1"]), ["a1", "b1"]),
        (SelectorRequest(roles: ["proxy", "spine"], nodes: ["a1", "a2", "b1"]), ["a1", "a2"]),
        (SelectorRequest(), ["a1", "a2", "a3", "b1", "b2"]),
    ])
    func aKnownSelectorSelectsExactlyItsNodes(request: SelectorRequest, expected: [String]) throws {
        #expect(names(try Selector.checked(request, in: topology)) == expected)
    }

    @Test(arguments: [
        (SelectorRequest(roles: ["prox"]), "--roles: unknown role 'prox' (nearest: proxy); nothing was done; names are exact and case-sensitive"),
        (SelectorRequest(roles: ["Proxy", "spine"]), "--roles: unknown role 'Proxy' (nearest: proxy)"),
        (SelectorRequest(nodes: ["a9"]), "--nodes: unknown node 'a9' (nearest: a1)"),
        (SelectorRequest(locations: ["eu/c"]), "--locations: unknown location 'eu/c' (nearest: eu/a)"),
        (SelectorRequest(locations: ["eu/a/r2"]), "--locations: unknown location 'eu/a/r2' (nearest: eu/a/r1)"),
    ])
    func anUnknownNameIsNamedWithTheNearestKnownOne(request: SelectorRequest, message: String) throws {
        let error = try #require(refusal(request))
        #expect(error.code == .badRequest)
        #expect(error.description.hasPrefix(message) || error.description == message, "\(error)")
        #expect(!error.description.contains("\n"), "one line")
    }

    @Test func everyUnknownNameIsNamedNotOnlyTheFirst() throws {
        let error = try #require(refusal(SelectorRequest(roles: ["prox", "spine", "detecter"], locations: ["ue"], nodes: ["b3", "a1"])))
        #expect(
            error.description
                == "--roles: unknown role 'prox' (nearest: proxy); --roles: unknown role 'detecter' (nearest: detector); "
                + "--nodes: unknown node 'b3' (nearest: b1); --locations: unknown location 'ue' (nearest: eu); "
                + "nothing was done; names are exact and case-sensitive")
    }

    @Test func aSelectorThatSelectsNoNodeIsRefused() throws {
        // Both exist, but no spine sits in eu/b.
        let error = try #require(refusal(SelectorRequest(roles: ["spine"], locations: ["eu/b"])))
        #expect(error.code == .noTargets)
        #expect(error.description.contains("roles spine, in eu/b selects no node of fleet test"), "\(error)")
    }

    @Test func rolesAreCheckedWithoutATopology() throws {
        #expect(try Selector.checkedRoles(["proxy", "proxy", "detector"]) == [.proxy, .detector])
        let (_, unknown) = Selector.roles(["data-migrator"], field: "--role")
        #expect(unknown.map(\.description) == ["--role: unknown role 'data-migrator' (nearest: data_migrator)"])
    }

    @Test func theSameFieldNamesAppearAsTheCallerWroteThem() throws {
        let fields = SelectorRequest.Fields(roles: "--role", locations: "--location", nodes: "--node")
        #expect(throws: TopologyError.self) { try Selector.checked(SelectorRequest(nodes: ["a0"]), in: topology, fields: fields) }
        do {
            _ = try Selector.checked(SelectorRequest(nodes: ["a0"]), in: topology, fields: fields)
        } catch {
            #expect(error.description.hasPrefix("--node: unknown node 'a0' (nearest: a1)"))
        }
    }

    @Test func nearestIsTheSmallestEditDistanceThenTheLongestSharedPrefixThenTheFirstInOrder() {
        #expect(Nearest.distance("kitten", "sitting") == 3)
        #expect(Nearest.distance("", "abc") == 3)
        #expect(Nearest.name(to: "node-10", in: ["node-1", "node-100", "node-2"]) == "node-100")
        #expect(Nearest.name(to: "b3", in: ["a3", "b1", "b2"]) == "b1")
        #expect(Nearest.name(to: "zz", in: ["ab", "aa"]) == "aa")
        #expect(Nearest.name(to: "x", in: []) == nil)
        #expect(topology.locationNames == ["eu", "eu/a", "eu/a/r1", "eu/b", "eu/b/r1"])
    }
}
