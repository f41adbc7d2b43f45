import ArgumentParser
import BenCore
import BenIntent
import Glibc

/// `ben-conformance`: runs cel-spec's simple-test files through Ben's expression engine and prints pass, fail
/// and skip per file, each skip with the feature it needs. Fails when the total pass count is below the
/// floor recorded in the repository, so the engine cannot quietly get worse.
@main
struct BenConformance: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ben-conformance",
        abstract: "Run cel-spec simple tests (*.textproto) against BenIntent's CEL-subset engine.",
        version: BenRelease.current)

    @Option(name: .long, help: "Folder holding cel-spec's simple-test *.textproto files.")
    var dir: String

    @Option(name: .long, help: "JSON file {\"total_pass\": N, ...}; exit 1 if fewer than N cases pass.")
    var floor: String?

    @Flag(name: .long, help: "List every failing case with the reason.")
    var verbose = false

    @Option(name: .long, help: "Run only files whose name contains this text.")
    var only: String?

    func run() throws {
        var names = try listTextprotos(dir)
        if let only { names = names.filter { $0.contains(only) } }
        guard !names.isEmpty else { throw ValidationError("\(dir) holds no *.textproto files") }
        var totals = (pass: 0, fail: 0, skip: 0)
        print("file                  pass  fail  skip  total  pass%")
        var details: [String] = []
        for name in names {
            let text = try readText(dir + "/" + name)
            let file: TextProtoMessage
            do { file = try TextProtoParser.parse(text) } catch {
                throw ValidationError("\(name): \(error)")
            }
            var counts = (pass: 0, fail: 0, skip: 0)
            var skips: [String: Int] = [:]
            var failures: [String] = []
            for section in file.messages("section") {
                let sectionName = section.string("name") ?? "?"
                for test in section.messages("test") {
                    let c = ConformanceCase(section: sectionName, message: test)
                    switch c.run() {
                    case .pass: counts.pass += 1
                    case .fail(let why):
                        counts.fail += 1
                        failures.append("    \(sectionName)/\(c.name): \(c.expression)\n        \(why)")
                    case .skip(let feature):
                        counts.skip += 1
                        skips[feature, default: 0] += 1
                    }
                }
            }
            let total = counts.pass + counts.fail + counts.skip
            let label = name.replacingSuffix(".textproto")
            let percent = total == 0 ? 0 : Double(counts.pass) * 100 / Double(total)
            print(pad(label, 20) + padLeft(counts.pass, 6) + padLeft(counts.fail, 6) + padLeft(counts.skip, 6)
                + padLeft(total, 7) + "  " + String(format1(percent)))
            for (feature, n) in skips.sorted(by: { $0.key < $1.key }) { print("    skipped \(n): \(feature)") }
            if verbose { details += failures.map { "\(label): " + $0.trimmingPrefixSpaces() } }
            totals.pass += counts.pass
            totals.fail += counts.fail
            totals.skip += counts.skip
        }
        let all = totals.pass + totals.fail + totals.skip
        print(pad("total", 20) + padLeft(totals.pass, 6) + padLeft(totals.fail, 6) + padLeft(totals.skip, 6)
            + padLeft(all, 7) + "  " + format1(all == 0 ? 0 : Double(totals.pass) * 100 / Double(all)))
        for line in details { print(line) }
        if let floor {
            let bytes = Array(try readText(floor).utf8)
            let json = try JSONParser.parse(bytes)
            guard case .int(let required)? = json["total_pass"] else {
                throw ValidationError("\(floor): expected {\"total_pass\": N}")
            }
            if totals.pass < required {
                print("FAIL: \(totals.pass) cases pass, below the floor of \(required) in \(floor)")
                throw ExitCode(1)
            }
            print("floor: \(totals.pass) pass >= \(required) (\(floor))")
        }
    }

    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
    func padLeft(_ v: Int, _ n: Int) -> String {
        let s = String(v)
        return String(repeating: " ", count: max(0, n - s.count)) + s
    }
    func format1(_ d: Double) -> String {
        let tenths = Int((d * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

func listTextprotos(_ dir: String) throws -> [String] {
    guard let handle = opendir(dir) else { throw ValidationError("\(dir): cannot open: \(String(cString: strerror(errno)))") }
    defer { closedir(handle) }
    var names: [String] = []
    while let entry = readdir(handle) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name.hasSuffix(".textproto") { names.append(name) }
    }
    return names.sorted()
}

func readText(_ path: String) throws -> String {
    guard let file = fopen(path, "rb") else { throw ValidationError("\(path): cannot open: \(String(cString: strerror(errno)))") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

extension String {
    func replacingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
    func trimmingPrefixSpaces() -> String { String(drop { $0 == " " }) }
}
