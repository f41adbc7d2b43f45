import Foundation

/// A directory under the system temp folder that is removed when the value goes away, so a test never leaves
/// files behind, whatever way it ends. Set `BEN_KEEP_TEST_DIRS=1` to keep them (and the logs in them) for a look.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(prefix: String = "ben-test") throws {
        let template = FileManager.default.temporaryDirectory.path + "/\(prefix)-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: template])
        }
        path = String(cString: made)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    deinit {
        if ProcessInfo.processInfo.environment["BEN_KEEP_TEST_DIRS"] == "1" { return }
        try? FileManager.default.removeItem(atPath: path)
    }
}
