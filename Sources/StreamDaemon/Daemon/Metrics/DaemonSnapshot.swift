import Foundation

/// Everything `/metrics`, `/healthz` and STATUS= report, taken at one instant.
struct DaemonSnapshot: Sendable {
    struct Stream: Sendable {
        var id: String
        var values: StreamStats.Values
    }

    struct Sink: Sendable {
        var name: String
        var counters: SinkCounters
    }

    var ready: Bool
    /// Work is waiting but nothing has finished for longer than the stall limit.
    var stalled: Bool
    var modelID: String
    var quantizationMode: String
    var quantizationEpoch: Int
    var uptime: Double
    var streams: [Stream]
    var sinks: [Sink]
    var recordsPending: Int
    /// Monotonic seconds when the snapshot was taken.
    var now: Double

    /// One line for systemd's STATUS=: every stream's state.
    var statusLine: String {
        if streams.isEmpty { return "no streams" }
        let parts = streams.map { stream -> String in
            let v = stream.values
            switch v.state {
            case .up: return "\(stream.id) up \(String(format: "%.1f", v.fps(now: now))) fps"
            case .reconnecting: return "\(stream.id) reconnecting (attempt \(v.reconnectAttempt))"
            case .down: return "\(stream.id) down"
            default: return "\(stream.id) \(v.state.rawValue)"
            }
        }
        return (stalled ? "STALLED; " : "") + parts.joined(separator: ", ")
    }
}
