import BenNATS
import Logging

/// A bound on how long a test waits for something that should happen, so a broken test fails instead of hanging.
/// It is a guard, not a timing assertion: the limits are far above what any of these waits take.
struct Overdue: Error, CustomStringConvertible {
    var what: String
    var description: String { "gave up waiting for \(what)" }
}

func within<T: Sendable>(
    _ what: String, limit: Duration = .seconds(15), _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)  // the deadline the body races, not a wait for it
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw Overdue(what: what) }
        return value
    }
}

/// The next `count` messages of a subscription.
func receive(_ count: Int, from subscription: NATSSubscription) async throws -> [NATSMessage] {
    try await within("\(count) messages on \(subscription.subject)") {
        var messages: [NATSMessage] = []
        for await message in subscription {
            messages.append(message)
            if messages.count == count { break }
        }
        return messages
    }
}

/// Events until (and including) the first one that satisfies `last`.
func events(
    _ stream: AsyncStream<NATSConnectionEvent>, until last: @escaping @Sendable (NATSConnectionEvent) -> Bool
) async throws -> [NATSConnectionEvent] {
    try await within("connection events") {
        var seen: [NATSConnectionEvent] = []
        for await event in stream {
            seen.append(event)
            if last(event) { return seen }
        }
        return seen
    }
}

extension NATSConnectionEvent {
    var isReconnected: Bool {
        if case .reconnected = self { return true }
        return false
    }
}

/// A connection to `server` whose reconnect waits are short, so restart tests are quick.
func connect(
    _ url: String, sendAsap: Bool = true, configure: (inout NATSSettings) -> Void = { _ in }
) async throws -> NATSConnection {
    var settings = NATSSettings()
    settings.name = "ben-nats-tests"
    settings.sendAsap = sendAsap
    settings.reconnect.initialDelay = .milliseconds(20)
    settings.reconnect.maxDelay = .milliseconds(200)
    configure(&settings)
    var logger = Logger(label: "ben.nats.tests")
    logger.logLevel = .critical
    return try await NATSConnection.connect(to: url, settings: settings, logger: logger)
}

/// Answers every request on `subscription` with `answer(request)` until the subscription ends.
func serve(
    _ subscription: NATSSubscription, answer: @escaping @Sendable (NATSMessage) -> ([UInt8], NATSHeaders?)
) -> Task<Void, Never> {
    Task {
        for await request in subscription {
            let (payload, headers) = answer(request)
            try? await request.respond(payload, headers: headers)
        }
    }
}

extension Array where Element == UInt8 {
    init(_ text: String) { self = Array(text.utf8) }
}
