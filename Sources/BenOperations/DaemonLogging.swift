public import Logging

/// How a daemon writes its log: swift-log's text lines (the default) or one JSON object per line
/// (`--log-format json`, `JSONLogHandler`).
public enum DaemonLogging {
    public static let formats = ["text", "json"]

    /// Installs the log format (once per process) and returns the daemon's logger at `level`.
    public static func bootstrap(label: String, format: String, level: String) throws(OperationsError) -> Logger {
        guard let logLevel = Logger.Level(rawValue: level) else {
            throw .invalid(key: "log_level", file: nil, value: level, expected: "one of trace, debug, info, notice, warning, error, critical")
        }
        switch format {
        case "text":
            break
        case "json":
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label) }
        default:
            throw .invalid(key: "log_format", file: nil, value: format, expected: "text or json")
        }
        var logger = Logger(label: label)
        logger.logLevel = logLevel
        return logger
    }
}
