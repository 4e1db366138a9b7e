import Decode
import Foundation
import Synchronization

/// Where a stream is in its life.
enum StreamState: String, Sendable {
    /// Opening for the first time.
    case starting
    case up
    /// Lost or failed; a reconnect may follow.
    case down
    /// Waiting out a backoff delay before the next attempt.
    case reconnecting
    /// Nothing more will come (end of file, or the source gave up).
    case ended
    /// `enabled: false` in the config.
    case disabled
}

/// Counters and state of one stream, kept by stream id across restarts of its pipeline (a
/// reload that changes a stream keeps its counters growing, as Prometheus expects).
final class StreamStats: Sendable {
    /// Upper bounds (seconds) of the inference latency histogram.
    static let latencyBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    struct Values: Sendable {
        var state: StreamState = .starting
        var kind: SourceKind
        var reason: String?
        var info: StreamInfo?
        var reconnectAttempt = 0
        /// Decoder counters of earlier pipelines of this stream, plus the current one's.
        var decodeBase = StreamCounters()
        var decode = StreamCounters()
        var droppedBase = 0
        var dropped = 0
        var queueDepth = 0
        var processed = 0
        var inferenceErrors = 0
        var ups = 0
        /// Monotonic seconds of the latest processed frame.
        var lastFrameAt: Double?
        var recentFrames: [Double] = []
        var latencyCounts = [Int](repeating: 0, count: StreamStats.latencyBuckets.count)
        var latencySum = 0.0
        /// Reason of the latest `down` that was logged at warning level.
        var loggedReason: String?

        var framesDecoded: Int { decodeBase.framesDecoded + decode.framesDecoded }
        var decodeErrors: Int { decodeBase.decodeErrors + decode.decodeErrors }
        var reconnects: Int { decodeBase.reconnects + decode.reconnects }
        var framesDropped: Int { droppedBase + dropped }

        /// Frames per second over the last few seconds (0 when idle).
        func fps(now: Double) -> Double {
            guard let last = recentFrames.last, now - last < 5, recentFrames.count >= 2 else { return 0 }
            let span = now - recentFrames[0]
            return span > 0 ? Double(recentFrames.count - 1) / span : 0
        }
    }

    let id: String
    private let values: Mutex<Values>

    init(id: String, kind: SourceKind) {
        self.id = id
        values = Mutex(Values(kind: kind))
    }

    func read() -> Values { values.withLock { $0 } }

    func update(_ body: (inout Values) -> Void) { values.withLock { body(&$0) } }

    func frameProcessed(latency: Double, at time: Double) {
        values.withLock { v in
            v.processed += 1
            v.lastFrameAt = time
            v.recentFrames.append(time)
            while v.recentFrames.count > 2, v.recentFrames.count > 64 || time - v.recentFrames[0] > 5 {
                v.recentFrames.removeFirst()
            }
            v.latencySum += latency
            if let bucket = Self.latencyBuckets.firstIndex(where: { latency <= $0 }) {
                v.latencyCounts[bucket] += 1
            }
        }
    }

    /// Folds a finished pipeline's counters into the base, so the next one starts on top.
    func retire(decode: StreamCounters, dropped: Int) {
        values.withLock { v in
            v.decodeBase.framesDecoded += decode.framesDecoded
            v.decodeBase.decodeErrors += decode.decodeErrors
            v.decodeBase.reconnects += decode.reconnects
            v.decode = StreamCounters()
            v.droppedBase += dropped
            v.dropped = 0
            v.queueDepth = 0
        }
    }
}
