import Foundation

/// A directory under the system temp folder that is removed when the value goes away, so a test never leaves
/// files behind, whatever way it ends.
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

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
